"""Settings → Gateway → LLM Gateway → Redaction policies, through the admin pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from orgs.models import AuditLogEntry, Role
from orgs.services import member_set
from policies.redaction.models import RedactionPolicy
from policies.redaction.services import redaction_policy_set

pytestmark = pytest.mark.django_db
URL = "/admin/policies/redactionpolicy/"


def client_for(persona: Any) -> Client:
    c = Client()
    c.force_login(persona.user)
    return c


def _make_org_admin(persona: Any) -> Any:
    member_set(
        workspace=persona.workspace,
        user=persona.user,
        role=Role.objects.get(builtin=True, name="WORKSPACE_ADMIN"),
        org_role=Role.objects.get(builtin=True, name="ORGANIZATION_ADMIN"),
    )
    return persona


def form_data(persona: Any, **over: Any) -> dict[str, Any]:
    data = {
        "organization": persona.organization.pk,
        "scope": "workspace",
        "workspace": persona.workspace.pk,
        "name": "",
        "enabled": "on",
        "pii_enabled": "on",
        "pii_rules": ["email", "phone"],
        "secrets_enabled": "on",
        "secret_rules": ["github", "aws"],
        "custom_patterns": "employee=EMP-\\d{6}",
        "scan_system_prompts": "on",
        "restore_responses": "on",
        "timeout_ms": "1500",
        "on_timeout": "block",
    }
    data.update(over)
    return data


def test_an_org_admin_creates_a_policy_and_it_is_audited(org_admin):
    response = client_for(org_admin).post(URL + "add/", form_data(org_admin))
    assert response.status_code == 302, response.content.decode()[:3000]
    policy = RedactionPolicy.objects.get()
    assert policy.scope == "workspace" and policy.workspace == org_admin.workspace
    assert policy.pii_rules == ["email", "phone"] and policy.secret_rules == ["aws", "github"]
    assert policy.custom_patterns == [{"name": "employee", "pattern": "EMP-\\d{6}"}]
    assert policy.timeout_ms == 1500
    assert AuditLogEntry.objects.filter(
        action="redaction_policy.create", actor=org_admin.user
    ).exists()


def test_a_catastrophic_custom_pattern_is_refused_on_the_page(org_admin):
    response = client_for(org_admin).post(
        URL + "add/", form_data(org_admin, custom_patterns="bad=(a+)+$")
    )
    assert response.status_code == 200
    assert "too slow" in response.content.decode()
    assert not RedactionPolicy.objects.exists()


def test_the_pages_say_person_names_need_an_ner_model(org_admin):
    page = client_for(org_admin).get(URL, follow=True).content.decode()
    assert "GATEWAY_PII_NLP_MODEL" in page
    assert "GATEWAY_PII_NLP_MODEL" in client_for(org_admin).get(URL + "add/").content.decode()


def test_editing_is_audited_with_before_and_after(org_admin):
    policy = redaction_policy_set(organization=org_admin.organization, scope="organization")
    response = client_for(org_admin).post(
        URL + f"{policy.pk}/change/",
        form_data(org_admin, pii_enabled="", name="org redaction"),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    policy.refresh_from_db()
    assert (
        not policy.pii_enabled and policy.name == "org redaction" and policy.scope == "organization"
    )
    entry = AuditLogEntry.objects.get(action="redaction_policy.update")
    assert entry.before["pii_enabled"] is True and entry.after["pii_enabled"] is False


def test_a_workspace_admin_without_organization_manage_cannot_see_policies(owner):
    redaction_policy_set(organization=owner.organization, scope="organization")
    assert client_for(owner).get(URL).status_code == 403


def test_an_outsider_gets_404_on_another_organizations_policy(owner, outsider):
    policy = redaction_policy_set(organization=owner.organization, scope="organization")
    _make_org_admin(outsider)
    client = client_for(outsider)
    assert client.get(URL + f"{policy.pk}/change/").status_code == 404
    assert client.post(URL + f"{policy.pk}/delete/", {"post": "yes"}).status_code == 404
    assert "redaction: organization acme" not in client.get(URL).content.decode()
    assert RedactionPolicy.objects.filter(pk=policy.pk).exists()


def test_deleting_goes_through_the_service(org_admin):
    policy = redaction_policy_set(organization=org_admin.organization, scope="organization")
    response = client_for(org_admin).post(URL + f"{policy.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not RedactionPolicy.objects.exists()
    assert AuditLogEntry.objects.filter(action="redaction_policy.delete").exists()


def test_names_addresses_and_places_are_switched_off_on_the_page(org_admin):
    from policies.redaction.snapshot import load_policies

    policy = redaction_policy_set(organization=org_admin.organization, scope="organization")
    assert {"person", "street_address", "location"} <= set(policy.pii_rules)
    page = client_for(org_admin).get(URL + f"{policy.pk}/change/").content.decode()
    for rule in ("person", "street_address", "location"):
        assert f'value="{rule}"' in page  # each type is its own choice
    kept = [r for r in policy.pii_rules if r not in ("person", "street_address", "location")]
    response = client_for(org_admin).post(
        URL + f"{policy.pk}/change/",
        form_data(org_admin, scope="organization", workspace="", pii_rules=kept),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    policy.refresh_from_db()
    assert policy.pii_rules == kept
    (snapshot,) = load_policies()[org_admin.organization.pk]
    assert {"person", "street_address", "location"}.isdisjoint(snapshot.config.rule_ids)
    assert "email" in snapshot.config.rule_ids
