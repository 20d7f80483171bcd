"""Shared fixtures: named personas (healthchecks' alice/bob/charlie), each with a workspace and key.

- owner:            WORKSPACE_ADMIN of acme/main, with a gateway-capable service key
- member:           WORKSPACE_USER of acme/main (no gateway:invoke)
- readonly_member:  WORKSPACE_VIEWER of acme/main
- outsider:         WORKSPACE_ADMIN of other/main, a different organization
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pytest

from devtools.redis_servers import RedisCluster, cluster_ports, redis_binaries
from orgs.models import ApiKey, Organization, Role, Workspace


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """Skip tests that need real services when they are not configured; in CI
    (GATEWAY_REQUIRE_SERVICES=True) such a test fails instead of being skipped."""
    required = os.environ.get("GATEWAY_REQUIRE_SERVICES") == "True"
    for item in items:
        if "redis" in item.keywords and not os.environ.get("REDIS_URL") and not required:
            item.add_marker(pytest.mark.skip(reason="needs REDIS_URL"))
        if "postgres" in item.keywords and not os.environ.get("DATABASE_URL") and not required:
            item.add_marker(pytest.mark.skip(reason="needs DATABASE_URL"))
        if "redis_cluster" in item.keywords and not redis_binaries() and not required:
            item.add_marker(pytest.mark.skip(reason="needs redis-server and redis-cli"))
    _serialized_transactional_tests_first(items)


def _django_db_kwargs(item: Any) -> dict[str, Any]:
    marker = item.get_closest_marker("django_db")
    return dict(marker.kwargs) if marker is not None else {}


def _is_transactional(item: Any) -> bool:
    kwargs = _django_db_kwargs(item)
    fixtures = getattr(item, "fixturenames", ())
    return bool(kwargs.get("transaction") or kwargs.get("reset_sequences")) or (
        "transactional_db" in fixtures or "live_server" in fixtures
    )


def _serialized_transactional_tests_first(items: list[Any]) -> None:
    """Within pytest-django's block of transactional tests, run the serialized_rollback ones
    first. A transactional test without it leaves its flush's freshly created content types
    behind, and a later serialized_rollback test then fails restoring its snapshot on them
    (UNIQUE constraint on django_content_type). Runs after pytest-django's own ordering."""
    positions = [i for i, item in enumerate(items) if _is_transactional(item)]
    block = [items[i] for i in positions]
    block.sort(key=lambda item: 0 if _django_db_kwargs(item).get("serialized_rollback") else 1)
    for i, item in zip(positions, block, strict=True):
        items[i] = item


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: Any) -> Any:
    """A Redis Cluster of 3 masters of the test session's own (redis-server --cluster-enabled
    yes on free loopback ports), stopped at the end. Tests that use it flush it first."""
    cluster = RedisCluster(cluster_ports(3), tmp_path_factory.mktemp("redis-cluster"))
    with cluster:
        yield cluster


@pytest.fixture(autouse=True)
def _builtin_roles(request: Any) -> None:
    """Every database test starts with the six built-in roles. They come from a data migration,
    and a transactional test's flush (without serialized_rollback) deletes them."""
    uses_db = request.node.get_closest_marker("django_db") is not None or bool(
        {"db", "transactional_db", "live_server"} & set(request.fixturenames)
    )
    if not uses_db:
        return
    request.getfixturevalue("db")
    from orgs.permissions_catalogue import BUILTIN_ROLES

    existing = set(Role.objects.filter(builtin=True).values_list("name", flat=True))
    for name, (scope, permissions) in BUILTIN_ROLES.items():
        if name not in existing:
            Role.objects.create(
                name=name, builtin=True, scope=scope, permissions=sorted(permissions)
            )


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Any) -> None:
    """Personas and logins hash passwords; PBKDF2's deliberate slowness only slows the suite."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class Persona:
    user: Any
    organization: Organization
    workspace: Workspace
    key: ApiKey
    plaintext_key: str
    password: str = "correct horse battery staple"


def make_persona(
    *,
    email: str,
    org_slug: str,
    ws_slug: str,
    role_name: str,
    org_role_name: str = "ORGANIZATION_USER",
    plan: str = "basic",
    gateway_enabled: bool = True,
    staff: bool = True,
) -> Persona:
    from orgs import services

    org = services.organization_upsert(
        slug=org_slug, plan=plan, llm_gateway_enabled=gateway_enabled
    )
    ws = services.workspace_upsert(organization=org, slug=ws_slug)
    user = services.user_get_or_create(email=email)
    user.set_password(Persona.password)
    user.is_staff = staff
    user.save()
    services.member_set(
        workspace=ws,
        user=user,
        role=Role.objects.get(builtin=True, name=role_name),
        org_role=Role.objects.get(builtin=True, name=org_role_name),
    )
    created = services.api_key_create(
        organization=org,
        workspace=ws,
        role=Role.objects.get(builtin=True, name=role_name),
        user=user,
        name=f"{email} key",
    )
    return Persona(
        user=user,
        organization=org,
        workspace=ws,
        key=created.api_key,
        plaintext_key=created.plaintext,
    )


@pytest.fixture
def owner(db: Any) -> Persona:
    return make_persona(
        email="alice@acme.test", org_slug="acme", ws_slug="main", role_name="WORKSPACE_ADMIN"
    )


@pytest.fixture
def member(owner: Persona) -> Persona:
    return make_persona(
        email="bob@acme.test", org_slug="acme", ws_slug="main", role_name="WORKSPACE_USER"
    )


@pytest.fixture
def readonly_member(owner: Persona) -> Persona:
    return make_persona(
        email="dora@acme.test", org_slug="acme", ws_slug="main", role_name="WORKSPACE_VIEWER"
    )


@pytest.fixture
def outsider(db: Any) -> Persona:
    return make_persona(
        email="charlie@other.test", org_slug="other", ws_slug="main", role_name="WORKSPACE_ADMIN"
    )


@pytest.fixture
def org_admin(owner: Persona) -> Persona:
    """alice (owner) promoted to ORGANIZATION_ADMIN of acme: organization:manage."""
    from orgs import services

    services.org_member_set(
        organization=owner.organization,
        user=owner.user,
        role=Role.objects.get(builtin=True, name="ORGANIZATION_ADMIN"),
    )
    return owner
