"""Settings → Gateway → LLM Gateway → Rate limits and Model access, through the admin pages:
created through the forms (audited), the current use of each window on the list, 404 for
another organization's policy."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from django.test import Client

from orgs.models import AuditLogEntry
from policies.modelaccess.models import ModelAccessPolicy
from policies.modelaccess.services import model_access_upsert
from policies.ratelimit import store_db
from policies.ratelimit.models import RateLimitPolicy
from policies.ratelimit.store_redis import RateCounter
from policies.tests.ratelimit_helpers import rate_policy

pytestmark = pytest.mark.django_db
RL = "/admin/policies/ratelimitpolicy/"
MA = "/admin/policies/modelaccesspolicy/"


def client_for(persona: Any) -> Client:
    c = Client()
    c.force_login(persona.user)
    return c


def inline(prefix: str, rows: list[dict[str, str]]) -> dict[str, str]:
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "1",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        data.update({f"{prefix}-{i}-{k}": v for k, v in row.items()})
    return data


def test_an_org_admin_creates_a_customer_rate_limit_and_it_is_audited(org_admin: Any) -> None:
    data = {
        "organization": org_admin.organization.pk,
        "name": "acme per minute",
        "enabled": "on",
        "scope": "customer",
        "kind": "total",
        "workspace": org_admin.workspace.pk,
        "customer": "acme",
        **inline("limits", [{"window": "minute", "max_requests": "60", "max_tokens": ""}]),
    }
    response = client_for(org_admin).post(RL + "add/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    policy = RateLimitPolicy.objects.get()
    assert (policy.customer, policy.workspace) == ("acme", org_admin.workspace)
    entry = AuditLogEntry.objects.get(action="rate_limit.create")
    assert entry.after["limits"] == {"minute": {"requests": 60, "tokens": None}}


def test_the_rate_limit_list_shows_current_use_per_window(org_admin: Any, settings: Any) -> None:
    settings.REDIS_URL = ""
    policy = rate_policy(org_admin, "org rpm", "organization", {"minute": (100, 5000)})
    counter = RateCounter(
        org_admin.organization.pk, policy.pk, "", "minute", "requests", 60, 100, 1
    )
    for _ in range(7):
        store_db.reserve([counter], reservation_id=uuid.uuid4().hex, now_ms=int(time.time() * 1000))
    page = client_for(org_admin).get(RL).content.decode()
    assert "requests per minute: 7 of 100" in page
    assert "tokens per minute: 0 of 5000" in page


def test_an_invalid_rate_limit_is_refused_with_a_clear_error(org_admin: Any) -> None:
    data = {
        "organization": org_admin.organization.pk,
        "name": "x",
        "enabled": "on",
        "scope": "customer",
        "kind": "total",
        "workspace": org_admin.workspace.pk,
        **inline("limits", [{"window": "minute", "max_requests": "5"}]),
    }
    response = client_for(org_admin).post(RL + "add/", data)
    assert response.status_code == 200
    assert "a customer rate limit needs a customer id" in response.content.decode()


def test_an_org_admin_creates_model_access_and_it_is_audited(org_admin: Any) -> None:
    data = {
        "organization": org_admin.organization.pk,
        "name": "small models",
        "enabled": "on",
        "scope": "workspace",
        "workspace": org_admin.workspace.pk,
        **inline("rules", [{"provider": "openai", "models": "gpt-4o*, o3"}]),
    }
    response = client_for(org_admin).post(MA + "add/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert ModelAccessPolicy.objects.get().rules.get().models == "gpt-4o*, o3"
    assert AuditLogEntry.objects.filter(action="model_access.create").exists()
    assert "OpenAI: gpt-4o*, o3" in client_for(org_admin).get(MA).content.decode()


def test_another_organizations_policies_are_404(org_admin: Any, outsider: Any) -> None:
    from orgs.models import Role
    from orgs.services import member_set

    rl = rate_policy(org_admin, "ours", "organization", {"minute": (1, None)})
    ma = model_access_upsert(
        organization=org_admin.organization,
        name="ours",
        scope="organization",
        models={"openai": "*"},
    )
    member_set(  # an admin of their own organization
        workspace=outsider.workspace,
        user=outsider.user,
        role=Role.objects.get(builtin=True, name="WORKSPACE_ADMIN"),
        org_role=Role.objects.get(builtin=True, name="ORGANIZATION_ADMIN"),
    )
    c = client_for(outsider)
    for url, pk in ((RL, rl.pk), (MA, ma.pk)):
        assert c.get(f"{url}{pk}/change/").status_code == 404
        assert c.post(f"{url}{pk}/delete/", {"post": "yes"}).status_code == 404
        assert "ours" not in c.get(url).content.decode()
    assert RateLimitPolicy.objects.filter(pk=rl.pk).exists()
    assert ModelAccessPolicy.objects.filter(pk=ma.pk).exists()
