"""One real gateway (no gates), the fake provider and one set of personas per test module.

The server thread reads the test database, so its rows must be committed. Flushing and
re-seeding the database around every test (transactional_db) costs seconds per test on
PostgreSQL; instead each module creates its personas once, with database access unblocked for
the module, and deletes every row it created at the end. Tests that change shared state
(the gateway flag, trace_content, a base URL) restore it in `finally`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from devtools.testing import (
    RunningGateway,
    ensure_seed_data,
    require_test_database,
    running_gateway,
)


@dataclass
class Persona:
    user: Any
    organization: Any
    workspace: Any
    key: Any
    plaintext_key: str


def _persona(*, org: Any, ws: Any, email: str, role_name: str) -> Persona:
    from orgs import services
    from orgs.models import Role

    user = services.user_get_or_create(email=email)
    role = Role.objects.get(builtin=True, name=role_name)
    services.member_set(workspace=ws, user=user, role=role)
    created = services.api_key_create(
        organization=org, workspace=ws, role=role, user=user, name=f"{email} key"
    )
    return Persona(user, org, ws, created.api_key, created.plaintext)


@dataclass
class World:
    owner: Persona
    member: Persona


def _marks() -> dict[str, int]:
    from django.contrib.auth import get_user_model

    from orgs.models import AuditLogEntry, Organization

    return {
        "org": Organization.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
        "user": get_user_model().objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
        "audit": AuditLogEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
    }


def _delete_since(marks: dict[str, int]) -> None:
    from django.contrib.auth import get_user_model

    from orgs.models import AuditLogEntry, Organization

    Organization.objects.filter(pk__gt=marks["org"]).delete()
    get_user_model().objects.filter(pk__gt=marks["user"]).delete()
    AuditLogEntry.objects.filter(pk__gt=marks["audit"]).delete()


@pytest.fixture(scope="module")
def servers(django_db_setup: Any, django_db_blocker: Any) -> Iterator[RunningGateway]:
    require_test_database()
    with django_db_blocker.unblock(), running_gateway() as gw:
        yield gw


@pytest.fixture(scope="module")
def world(servers: RunningGateway, django_db_blocker: Any) -> Iterator[World]:
    from orgs import services

    with django_db_blocker.unblock():
        ensure_seed_data()
        marks = _marks()
        try:
            tag = uuid.uuid4().hex[:8]
            org = services.organization_upsert(slug=f"acme-{tag}", llm_gateway_enabled=True)
            ws = services.workspace_upsert(organization=org, slug="main")
            owner = _persona(
                org=org, ws=ws, email=f"alice-{tag}@acme.test", role_name="WORKSPACE_ADMIN"
            )
            member = _persona(
                org=org, ws=ws, email=f"bob-{tag}@acme.test", role_name="WORKSPACE_USER"
            )
            servers.give_secrets(ws)
            yield World(owner=owner, member=member)
        finally:
            _delete_since(marks)


@pytest.fixture
def owner(world: World, django_db_blocker: Any) -> Iterator[Persona]:
    with django_db_blocker.unblock():
        yield world.owner


@pytest.fixture
def member(world: World) -> Persona:
    return world.member


@pytest.fixture
def gw(servers: RunningGateway, world: World) -> RunningGateway:
    servers.reset()
    return servers
