"""API clients for the root personas: by gateway key (default) or by admin session."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from orgs.services import api_key_create, organization_upsert, role_upsert

SECRET_VALUE = "sk-test-SECRETVALUE0123456789abcdefXYZW"


def key_client(plaintext: str, *, header: str = "x-api-key") -> APIClient:
    client = APIClient()
    if header == "x-api-key":
        client.credentials(HTTP_X_API_KEY=plaintext)
    else:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    return client


def session_client(persona: Any, *, csrf: bool = False) -> APIClient:
    client = APIClient(enforce_csrf_checks=csrf)
    client.force_login(persona.user)
    return client


@pytest.fixture
def api(owner: Any) -> APIClient:
    return key_client(owner.plaintext_key)


@pytest.fixture
def as_member(member: Any) -> APIClient:
    return key_client(member.plaintext_key)


@pytest.fixture
def as_readonly(readonly_member: Any) -> APIClient:
    return key_client(readonly_member.plaintext_key)


@pytest.fixture
def as_outsider(outsider: Any) -> APIClient:
    return key_client(outsider.plaintext_key)


@pytest.fixture
def as_org_admin(org_admin: Any) -> APIClient:
    return session_client(org_admin)


@pytest.fixture
def enterprise(owner: Any) -> Any:
    return organization_upsert(slug=owner.organization.slug, plan="enterprise")


@pytest.fixture
def invoker_key(owner: Any, enterprise: Any) -> str:
    """A key whose custom role can call the gateway but not read the workspace: it sees the
    workspace (so 403, not 404) and holds no read permission."""
    role = role_upsert(organization=enterprise, name="INVOKE_ONLY", permissions=["gateway:invoke"])
    return api_key_create(
        organization=enterprise, workspace=owner.workspace, role=role, name="invoker"
    ).plaintext


def detail(response: Any) -> str:
    return response.json()["detail"]
