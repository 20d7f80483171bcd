from __future__ import annotations

import time

from api.tests.conftest import detail, session_client
from api.tests.test_tracing import record
from orgs.models import AuditLogEntry
from policies.redaction.models import RedactionPolicy
from policies.spend.models import SpendPolicy
from tracing.services import runs_ingest


def spend_url(persona, pk=None):
    base = f"/api/v1/organizations/{persona.organization.pk}/spend-limits/"
    return f"{base}{pk}/" if pk else base


def redaction_url(persona, pk=None):
    base = f"/api/v1/organizations/{persona.organization.pk}/redaction-policies/"
    return f"{base}{pk}/" if pk else base


WORKSPACE_CAP = {
    "name": "main cap",
    "scope": "workspace",
    "windows": [{"window": "monthly", "limit_usd": "200"}],
}


def test_spend_limit_lifecycle_with_current_spend(owner, as_org_admin):
    body = {**WORKSPACE_CAP, "workspace": owner.workspace.pk}
    response = as_org_admin.post(spend_url(owner), body, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["windows"][0]["limit_usd"] == "200.000000"
    assert created["windows"][0]["spent_usd"] == 0
    runs_ingest([record(owner, started_at=time.time() - 5, cost_usd=1.25)])
    one = as_org_admin.get(spend_url(owner, created["id"])).json()
    assert one["windows"][0]["spent_usd"] >= 0  # live counter or recorded usage, per mode
    response = as_org_admin.patch(
        spend_url(owner, created["id"]),
        {"enabled": False, "windows": [{"window": "daily", "limit_usd": "10"}]},
        format="json",
    )
    assert response.status_code == 200
    assert {w["window"] for w in response.json()["windows"]} == {"monthly", "daily"}
    assert response.json()["enabled"] is False
    assert as_org_admin.post(spend_url(owner), body, format="json").status_code == 409
    assert as_org_admin.delete(spend_url(owner, created["id"])).status_code == 204
    assert not SpendPolicy.objects.exists()
    actions = set(AuditLogEntry.objects.values_list("action", flat=True))
    assert {"spend_policy.create", "spend_policy.update", "spend_policy.delete"} <= actions


def test_spend_limit_reads_recorded_spend(owner, as_org_admin):
    runs_ingest([record(owner, started_at=time.time() - 5, cost_usd=1.25)])
    body = {**WORKSPACE_CAP, "workspace": owner.workspace.pk}
    created = as_org_admin.post(spend_url(owner), body, format="json").json()
    assert created["windows"][0]["spent_usd"] == 1.25


def test_unpriced_models_can_be_charged_a_fallback_price(owner, as_org_admin):
    body = {**WORKSPACE_CAP, "workspace": owner.workspace.pk, "unpriced_models": "fallback"}
    response = as_org_admin.post(spend_url(owner), body, format="json")
    assert response.status_code == 400
    assert "fallback" in detail(response)
    body.update(fallback_input_per_mtok="3", fallback_output_per_mtok="15")
    response = as_org_admin.post(spend_url(owner), body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["fallback_output_per_mtok"] == "15.000000"
    response = as_org_admin.patch(
        spend_url(owner, response.json()["id"]), {"unpriced_models": "refuse"}, format="json"
    )
    assert response.json()["unpriced_models"] == "refuse"


def test_spend_limit_validation(owner, outsider, as_org_admin):
    response = as_org_admin.post(spend_url(owner), WORKSPACE_CAP, format="json")
    assert response.status_code == 400
    assert "needs a workspace" in detail(response)
    body = {**WORKSPACE_CAP, "workspace": outsider.workspace.pk}
    response = as_org_admin.post(spend_url(owner), body, format="json")
    assert response.status_code == 400
    assert "in this organization" in detail(response)
    body = {
        **WORKSPACE_CAP,
        "workspace": owner.workspace.pk,
        "windows": [{"window": "yearly", "limit_usd": "1"}],
    }
    assert as_org_admin.post(spend_url(owner), body, format="json").status_code == 400


def test_policies_need_organization_manage(owner, api):
    assert api.get(spend_url(owner)).status_code == 403
    body = {**WORKSPACE_CAP, "workspace": owner.workspace.pk}
    response = api.post(spend_url(owner), body, format="json")
    assert response.status_code == 403
    assert "organization:manage" in detail(response)
    assert api.get(redaction_url(owner)).status_code == 403
    assert (
        api.post(redaction_url(owner), {"scope": "organization"}, format="json").status_code == 403
    )


def test_outsider_gets_404_on_policies(owner, as_org_admin, as_outsider):
    created = as_org_admin.post(
        spend_url(owner), {**WORKSPACE_CAP, "workspace": owner.workspace.pk}, format="json"
    ).json()
    assert as_outsider.get(spend_url(owner)).status_code == 404
    assert as_outsider.get(spend_url(owner, created["id"])).status_code == 404
    assert as_outsider.delete(spend_url(owner, created["id"])).status_code == 404
    red = as_org_admin.post(redaction_url(owner), {"scope": "organization"}, format="json").json()
    assert as_outsider.get(redaction_url(owner, red["id"])).status_code == 404
    assert (
        as_outsider.patch(
            redaction_url(owner, red["id"]), {"enabled": False}, format="json"
        ).status_code
        == 404
    )
    assert SpendPolicy.objects.count() == 1 and RedactionPolicy.objects.get().enabled


def test_another_orgs_policy_id_is_404_under_mine(owner, outsider):
    from orgs.models import Role
    from orgs.services import member_set

    member_set(
        workspace=outsider.workspace,
        user=outsider.user,
        role=outsider.key.role,
        org_role=Role.objects.get(builtin=True, name="ORGANIZATION_ADMIN"),
    )
    theirs = (
        session_client(outsider)
        .post(redaction_url(outsider), {"scope": "organization"}, format="json")
        .json()
    )
    member_set(
        workspace=owner.workspace,
        user=owner.user,
        role=owner.key.role,
        org_role=Role.objects.get(builtin=True, name="ORGANIZATION_ADMIN"),
    )
    assert session_client(owner).get(redaction_url(owner, theirs["id"])).status_code == 404


def test_redaction_policy_lifecycle(owner, as_org_admin):
    body = {
        "scope": "workspace",
        "workspace": owner.workspace.pk,
        "pii_rules": ["email"],
        "custom_patterns": [{"name": "employee_id", "pattern": "EMP-\\d{6}"}],
    }
    response = as_org_admin.post(redaction_url(owner), body, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["pii_rules"] == ["email"] and created["on_timeout"] == "block"
    assert as_org_admin.post(redaction_url(owner), body, format="json").status_code == 409
    response = as_org_admin.patch(
        redaction_url(owner, created["id"]),
        {"on_timeout": "allow", "timeout_ms": 500},
        format="json",
    )
    assert response.status_code == 200
    assert (
        response.json()["on_timeout"] == "allow"
        and response.json()["custom_patterns"][0]["name"] == "employee_id"
    )
    response = as_org_admin.patch(
        redaction_url(owner, created["id"]),
        {"custom_patterns": [{"name": "bad", "pattern": "(a*)*"}]},
        format="json",
    )
    assert response.status_code == 400
    assert [p["id"] for p in as_org_admin.get(redaction_url(owner)).json()] == [created["id"]]
    assert as_org_admin.delete(redaction_url(owner, created["id"])).status_code == 204
    assert not RedactionPolicy.objects.exists()
    assert AuditLogEntry.objects.filter(action="redaction_policy.delete").exists()


def test_redaction_policy_bad_input(owner, as_org_admin):
    response = as_org_admin.post(
        redaction_url(owner), {"scope": "organization", "pii_rules": ["dna"]}, format="json"
    )
    assert response.status_code == 400
    response = as_org_admin.post(redaction_url(owner), {"scope": "api_key"}, format="json")
    assert response.status_code == 400
    assert "key" in detail(response)
