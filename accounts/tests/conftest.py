"""Fixtures for sign-in tests: an organization with single sign-on against the fake provider."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache

from accounts import services
from accounts.oidc import discovery_cache_key
from devtools.fake_oidc import running_oidc_provider
from orgs.models import Role

CLIENT_ID = "llm-gateway"
CLIENT_SECRET = "idp-client-secret-0123456789"


@pytest.fixture
def idp() -> Any:
    with running_oidc_provider(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as provider:
        yield provider
        cache.delete(discovery_cache_key(provider.issuer))


@pytest.fixture
def sso(owner: Any, idp: Any) -> Any:
    """acme signs in through the fake provider: group gateway-admins → ORGANIZATION_ADMIN,
    group platform → WORKSPACE_ADMIN in acme/main."""
    provider = services.sso_provider_set(
        organization=owner.organization,
        issuer=idp.issuer,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        email_domains=["acme.test"],
    )
    services.sso_mapping_set(
        provider=provider,
        group="gateway-admins",
        org_role=Role.objects.get(builtin=True, name="ORGANIZATION_ADMIN"),
    )
    services.sso_mapping_set(
        provider=provider,
        group="platform",
        workspace=owner.workspace,
        workspace_role=Role.objects.get(builtin=True, name="WORKSPACE_ADMIN"),
    )
    return provider
