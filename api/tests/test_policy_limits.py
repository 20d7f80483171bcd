"""Rate limits and model-access policies through the management API: CRUD with current use,
audit entries, validation, organization:manage, and 404 for another organization."""

from __future__ import annotations

import time
import uuid

from api.tests.conftest import detail, session_client
from orgs.models import AuditLogEntry
from policies.modelaccess.models import ModelAccessPolicy
from policies.ratelimit import store_db
from policies.ratelimit.models import RateLimitPolicy
from policies.ratelimit.store_redis import RateCounter


def rl_url(persona, pk=None):
    base = f"/api/v1/organizations/{persona.organization.pk}/rate-limits/"
    return f"{base}{pk}/" if pk else base


def ma_url(persona, pk=None):
    base = f"/api/v1/organizations/{persona.organization.pk}/model-access/"
    return f"{base}{pk}/" if pk else base


WORKSPACE_RPM = {
    "name": "main rpm",
    "scope": "workspace",
    "limits": [{"window": "minute", "requests": 100, "tokens": 50000}],
}


def test_rate_limit_lifecycle_with_current_use(owner, as_org_admin, settings):
    settings.REDIS_URL = ""  # the embedded mode's counters (the gate tests cover both stores)
    body = {**WORKSPACE_RPM, "workspace": owner.workspace.pk}
    response = as_org_admin.post(rl_url(owner), body, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["limits"] == [{"window": "minute", "requests": 100, "tokens": 50000}]
    assert {(u["metric"], u["used"]) for u in created["usage"]} == {("requests", 0), ("tokens", 0)}
    counter = RateCounter(
        owner.organization.pk, created["id"], "", "minute", "requests", 60, 100, 1
    )
    for _ in range(3):
        store_db.reserve([counter], reservation_id=uuid.uuid4().hex, now_ms=int(time.time() * 1000))
    one = as_org_admin.get(rl_url(owner, created["id"])).json()
    assert {u["metric"]: u["used"] for u in one["usage"]}["requests"] == 3
    response = as_org_admin.patch(
        rl_url(owner, created["id"]),
        {"enabled": False, "limits": [{"window": "hour", "requests": 1000}]},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["limits"] == [{"window": "hour", "requests": 1000, "tokens": None}]
    assert response.json()["enabled"] is False
    assert as_org_admin.post(rl_url(owner), body, format="json").status_code == 409
    assert as_org_admin.delete(rl_url(owner, created["id"])).status_code == 204
    assert not RateLimitPolicy.objects.exists()
    actions = set(AuditLogEntry.objects.values_list("action", flat=True))
    assert {"rate_limit.create", "rate_limit.update", "rate_limit.delete"} <= actions


def test_rate_limit_for_a_customer_and_bad_input(owner, outsider, as_org_admin):
    body = {
        "name": "acme",
        "scope": "customer",
        "workspace": owner.workspace.pk,
        "customer": "acme",
        "limits": [{"window": "minute", "requests": 10}],
    }
    created = as_org_admin.post(rl_url(owner), body, format="json")
    assert created.status_code == 201 and created.json()["customer"] == "acme"
    no_customer = {**body, "name": "x", "customer": ""}
    response = as_org_admin.post(rl_url(owner), no_customer, format="json")
    assert response.status_code == 400 and "customer id" in detail(response)
    empty = {**body, "name": "y", "limits": [{"window": "minute"}]}
    assert as_org_admin.post(rl_url(owner), empty, format="json").status_code == 400
    theirs = {**body, "name": "z", "workspace": outsider.workspace.pk}
    assert as_org_admin.post(rl_url(owner), theirs, format="json").status_code == 400


def test_model_access_lifecycle(owner, as_org_admin):
    body = {
        "name": "small models",
        "scope": "workspace",
        "workspace": owner.workspace.pk,
        "rules": [
            {"provider": "openai", "models": "gpt-4o*"},
            {"provider": "gemini", "models": "*"},
        ],
    }
    response = as_org_admin.post(ma_url(owner), body, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert {r["provider"]: r["models"] for r in created["rules"]} == {
        "openai": "gpt-4o*",
        "gemini": "*",
    }
    response = as_org_admin.patch(
        ma_url(owner, created["id"]),
        {"rules": [{"provider": "anthropic", "models": "claude-*-haiku-*"}]},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["rules"] == [{"provider": "anthropic", "models": "claude-*-haiku-*"}]
    bad = {**body, "name": "bad", "rules": [{"provider": "openai", "models": "gpt 4"}]}
    response = as_org_admin.post(ma_url(owner), bad, format="json")
    assert response.status_code == 400 and "not a model pattern" in detail(response)
    assert as_org_admin.delete(ma_url(owner, created["id"])).status_code == 204
    actions = set(AuditLogEntry.objects.values_list("action", flat=True))
    assert {"model_access.create", "model_access.update", "model_access.delete"} <= actions


def test_policies_need_organization_manage_and_outsiders_get_404(
    owner, outsider, api, as_org_admin, as_outsider
):
    assert api.get(rl_url(owner)).status_code == 403
    assert api.get(ma_url(owner)).status_code == 403
    rl = as_org_admin.post(
        rl_url(owner), {**WORKSPACE_RPM, "workspace": owner.workspace.pk}, format="json"
    ).json()
    ma = as_org_admin.post(
        ma_url(owner),
        {"name": "m", "scope": "organization", "rules": [{"provider": "openai", "models": "*"}]},
        format="json",
    ).json()
    for url in (rl_url(owner), rl_url(owner, rl["id"]), ma_url(owner), ma_url(owner, ma["id"])):
        assert as_outsider.get(url).status_code == 404
    assert as_outsider.delete(rl_url(owner, rl["id"])).status_code == 404
    assert (
        as_outsider.patch(ma_url(owner, ma["id"]), {"enabled": False}, format="json").status_code
        == 404
    )
    assert RateLimitPolicy.objects.get().enabled and ModelAccessPolicy.objects.get().enabled
    # The outsider's own organization does not reach my policies by id either.
    from orgs.models import Role
    from orgs.services import member_set

    member_set(
        workspace=outsider.workspace,
        user=outsider.user,
        role=outsider.key.role,
        org_role=Role.objects.get(builtin=True, name="ORGANIZATION_ADMIN"),
    )
    theirs = session_client(outsider)
    assert theirs.get(rl_url(outsider, rl["id"])).status_code == 404
    assert theirs.delete(ma_url(outsider, ma["id"])).status_code == 404
    assert ModelAccessPolicy.objects.exists()
