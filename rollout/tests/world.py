"""A committed set-up for a whole test module, removed at its end (no per-test database flush).

The gateway's threads read the database, so the rows they see must be committed; creating them
once per module and deleting them afterwards (as policies/tests/test_redaction_e2e.py does)
avoids a TransactionTestCase flush after every test, which costs seconds on PostgreSQL. The
built-in roles come from a data migration that an earlier transactional test's flush may have
removed; they are re-created when missing.
"""

from __future__ import annotations

import contextlib
import importlib
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


def ensure_builtin_roles() -> None:
    from django.apps import apps

    from orgs.models import Role

    if not Role.objects.filter(builtin=True).exists():
        migration = importlib.import_module("orgs.migrations.0002_builtin_roles")
        migration.create_builtin_roles(apps, None)


def closed_port_url() -> str:
    """An http origin on loopback where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def give_secrets(workspace: Any, base_url: str) -> None:
    """The workspace's three provider secrets, pointing at `base_url` (the fake provider)."""
    from secrets_vault.services import secret_set

    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY"):
        secret_set(
            workspace=workspace,
            name=name,
            value=f"sk-upstream-{name[:5].lower()}-0000",
            base_url=base_url,
        )


@dataclass
class World:
    """Keys by purpose (plaintext), and the objects a test may look at."""

    organization: Any
    workspace: Any
    keys: dict[str, str] = field(default_factory=dict)
    workspaces: dict[str, Any] = field(default_factory=dict)


def _user(services: Any, email: str, workspace: Any, role_name: str) -> Any:
    from orgs.models import Role

    user = services.user_get_or_create(email=email)
    services.member_set(
        workspace=workspace, user=user, role=Role.objects.get(builtin=True, name=role_name)
    )
    return user


def _key(services: Any, workspace: Any, role_name: str, user: Any = None) -> str:
    from orgs.models import Role

    role = Role.objects.get(builtin=True, name=role_name)
    return services.api_key_create(
        organization=workspace.organization, workspace=workspace, role=role, user=user, name="k"
    ).plaintext


@contextlib.contextmanager
def committed_world(fake_url: str, django_db_blocker: Any) -> Iterator[World]:
    """Organization `rollout-<tag>` (gateway on) with workspaces:
    main (secrets on the fake; keys: admin, member (WORKSPACE_USER), org (organization-scoped)),
    bare (no secrets), closed (secrets on a closed port); and organization `rollout-<tag>-off`
    (gateway off; key: off)."""
    from django.contrib.auth import get_user_model

    from orgs import services
    from orgs.models import AuditLogEntry, Organization, Role

    tag = uuid.uuid4().hex[:8]
    with django_db_blocker.unblock():
        ensure_builtin_roles()
        mark = AuditLogEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        org = services.organization_upsert(slug=f"rollout-{tag}", llm_gateway_enabled=True)
        off = services.organization_upsert(slug=f"rollout-{tag}-off", llm_gateway_enabled=False)
        world = World(
            organization=org, workspace=services.workspace_upsert(organization=org, slug="main")
        )
        for slug in ("bare", "closed"):
            world.workspaces[slug] = services.workspace_upsert(organization=org, slug=slug)
        world.workspaces["off"] = services.workspace_upsert(organization=off, slug="main")
        admin = _user(services, f"admin-{tag}@rollout.test", world.workspace, "WORKSPACE_ADMIN")
        member = _user(services, f"member-{tag}@rollout.test", world.workspace, "WORKSPACE_USER")
        give_secrets(world.workspace, fake_url)
        give_secrets(world.workspaces["closed"], closed_port_url())
        give_secrets(world.workspaces["off"], fake_url)
        world.keys["admin"] = _key(services, world.workspace, "WORKSPACE_ADMIN", admin)
        world.keys["member"] = _key(services, world.workspace, "WORKSPACE_USER", member)
        world.keys["bare"] = _key(services, world.workspaces["bare"], "WORKSPACE_ADMIN")
        world.keys["closed"] = _key(services, world.workspaces["closed"], "WORKSPACE_ADMIN")
        world.keys["off"] = _key(services, world.workspaces["off"], "WORKSPACE_ADMIN")
        world.keys["org"] = services.api_key_create(
            organization=org,
            workspace=None,
            role=Role.objects.get(builtin=True, name="ORGANIZATION_ADMIN"),
            name="org key",
        ).plaintext
    try:
        yield world
    finally:
        with django_db_blocker.unblock():
            from tracing.models import UsageRecord

            orgs = Organization.objects.filter(slug__startswith=f"rollout-{tag}")
            UsageRecord.objects.filter(
                organization_id__in=list(orgs.values_list("pk", flat=True))
            ).delete()
            orgs.delete()
            get_user_model().objects.filter(email__endswith=f"-{tag}@rollout.test").delete()
            AuditLogEntry.objects.filter(pk__gt=mark).delete()
