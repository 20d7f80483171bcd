"""The policy forms cannot mislead: a redaction policy always has its rules, a spend limit is
written through the services with only its scope's subject, and every subject picker offers
only what the editor manages, labelled with its organization (autocomplete included)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from orgs import services as org_services
from orgs.models import AuditLogEntry
from policies.redaction.models import RedactionPolicy
from policies.redaction.rules import ALL_RULES, default_rule_ids
from policies.redaction.snapshot import snapshot_of
from policies.spend.models import SpendPolicy
from policies.tests.spend_helpers import admin_form_data, policy

pytestmark = pytest.mark.django_db
REDACTION = "/admin/policies/redactionpolicy/"
SPEND = "/admin/policies/spendpolicy/"


def client_for(persona: Any) -> Client:
    c = Client()
    c.force_login(persona.user)
    return c


def redaction_data(persona: Any, **over: Any) -> dict[str, Any]:
    data = {
        "organization": persona.organization.pk,
        "scope": "workspace",
        "workspace": persona.workspace.pk,
        "name": "",
        "enabled": "on",
        "pii_enabled": "on",
        "secrets_enabled": "on",
        "custom_patterns": "",
        "scan_system_prompts": "on",
        "restore_responses": "on",
        "timeout_ms": "2000",
        "on_timeout": "block",
    }
    data.update(over)
    return data


def test_the_add_form_ticks_every_rule_of_both_categories(org_admin: Any) -> None:
    page = client_for(org_admin).get(REDACTION + "add/").content.decode()
    for rule_id in default_rule_ids("pii") + default_rule_ids("secrets"):
        assert f'value="{rule_id}"' in page
        start = page.index(f'value="{rule_id}"')
        tag = page[page.rindex("<input", 0, start) : page.index(">", start)]
        assert "checked" in tag, rule_id
    # The defaults come from the catalogue: every rule that can run here.
    assert set(default_rule_ids("secrets")) == {r.id for r in ALL_RULES if r.category == "secrets"}


def test_categories_ticked_without_rules_are_refused_not_saved(org_admin: Any) -> None:
    """The trap: PII and secrets ticked, every rule unticked, saved silently, redacted nothing."""
    response = client_for(org_admin).post(REDACTION + "add/", redaction_data(org_admin))
    assert response.status_code == 200
    html = response.content.decode()
    assert "PII redaction is on but no PII rule is selected" in html
    assert not RedactionPolicy.objects.exists()


def test_the_defaults_redact_emails_and_github_tokens(org_admin: Any) -> None:
    data = redaction_data(
        org_admin, pii_rules=default_rule_ids("pii"), secret_rules=default_rule_ids("secrets")
    )
    response = client_for(org_admin).post(REDACTION + "add/", data)
    assert response.status_code == 302
    saved = RedactionPolicy.objects.get()
    rules = snapshot_of(saved).config.rule_ids
    assert {"email", "github", "aws"} <= rules
    listing = client_for(org_admin).get(REDACTION).content.decode()
    assert f"{len(default_rule_ids('pii'))} rule(s)" in listing


def test_an_exempting_policy_is_saved_with_a_warning_but_not_org_wide(org_admin: Any) -> None:
    c = client_for(org_admin)
    data = redaction_data(org_admin)
    del data["pii_enabled"], data["secrets_enabled"]
    response = c.post(REDACTION + "add/", data, follow=True)
    assert "redacts nothing" in response.content.decode()
    org_wide = redaction_data(org_admin, scope="organization")
    del org_wide["pii_enabled"], org_wide["secrets_enabled"]
    response = c.post(REDACTION + "add/", org_wide)
    assert "would redact nothing" in response.content.decode()
    assert RedactionPolicy.objects.count() == 1


def test_the_cli_refuses_a_category_without_rules(owner: Any) -> None:
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no PII rule is selected"):
        call_command("gateway_redaction", "acme/main", "--pii", "on", "--pii-rules", "")


def spend_data(persona: Any, **over: Any) -> dict[str, Any]:
    return admin_form_data(persona.organization, **over)


def test_a_subject_left_in_a_hidden_field_is_ignored(org_admin: Any) -> None:
    # The workspace picker kept a value, then the scope was switched to organization.
    response = client_for(org_admin).post(
        SPEND + "add/", spend_data(org_admin, workspace=org_admin.workspace.pk)
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    saved = SpendPolicy.objects.get()
    assert saved.scope == "organization" and saved.workspace_id is None


def test_editing_a_limit_goes_through_the_service_renames_and_drops_windows(org_admin: Any) -> None:
    p = policy(org_admin, "team cap", "organization", {"daily": "12", "monthly": "300"})
    windows = list(p.windows.order_by("window"))
    data = spend_data(
        org_admin,
        name="renamed cap",
        **{
            "windows-TOTAL_FORMS": "2",
            "windows-INITIAL_FORMS": "2",
            "windows-0-id": str(windows[0].pk),
            "windows-0-policy": str(p.pk),
            "windows-0-window": windows[0].window,
            "windows-0-limit_usd": "15",
            "windows-1-id": str(windows[1].pk),
            "windows-1-policy": str(p.pk),
            "windows-1-window": windows[1].window,
            "windows-1-limit_usd": "300",
            "windows-1-DELETE": "on",
        },
    )
    response = client_for(org_admin).post(f"{SPEND}{p.pk}/change/", data)
    assert response.status_code == 302, (
        response.context["adminform"].form.errors,
        [f.errors for f in response.context["inline_admin_formsets"][0].formset.forms],
        response.context["inline_admin_formsets"][0].formset.non_form_errors(),
    )
    p.refresh_from_db()
    assert p.name == "renamed cap"
    assert {w.window: str(w.limit_usd) for w in p.windows.all()} == {"daily": "15.000000"}
    entry = AuditLogEntry.objects.filter(action="spend_policy.update").latest("id")
    assert entry.before["name"] == "team cap" and entry.after["name"] == "renamed cap"
    assert entry.after["windows"] == {"daily": "15.000000"} and entry.actor == org_admin.user


def test_a_duplicate_name_or_window_is_a_form_error(org_admin: Any) -> None:
    policy(org_admin, "team cap", "organization", {"daily": "12"})
    c = client_for(org_admin)
    response = c.post(SPEND + "add/", spend_data(org_admin))
    assert "already has a spend limit named" in response.content.decode()
    twice = spend_data(
        org_admin,
        name="other",
        **{"windows-TOTAL_FORMS": "2", "windows-1-window": "monthly", "windows-1-limit_usd": "5"},
    )
    response = c.post(SPEND + "add/", twice)
    assert response.status_code == 200
    assert SpendPolicy.objects.count() == 1


def test_subject_pickers_label_and_scope_their_choices(org_admin: Any, outsider: Any) -> None:
    page = client_for(org_admin).get(SPEND + "add/").content.decode()
    assert "acme/main" in page and "other/main" not in page
    assert "data-subject-fields" in page and "policies/subject_fields.js" in page
    assert 'data-ajax--url="/admin/autocomplete/"' in page  # key and user pickers


def test_the_autocomplete_offers_only_the_editors_organizations(
    org_admin: Any, outsider: Any
) -> None:
    c = client_for(org_admin)
    params = {"app_label": "policies", "model_name": "spendpolicy", "field_name": "api_key"}
    answer = json.loads(c.get("/admin/autocomplete/", params).content)
    texts = [r["text"] for r in answer["results"]]
    assert any(org_admin.key.display_prefix in t and "acme/main" in t for t in texts)
    assert not any(outsider.key.display_prefix in t for t in texts)
    users = json.loads(
        c.get("/admin/autocomplete/", {**params, "field_name": "user", "term": "charlie"}).content
    )
    assert users["results"] == []
    mine = json.loads(
        c.get("/admin/autocomplete/", {**params, "field_name": "user", "term": "alice"}).content
    )
    assert [r["text"] for r in mine["results"]] == ["alice@acme.test (acme)"]


def test_the_autocomplete_is_refused_to_those_who_cannot_edit_policies(owner: Any) -> None:
    params = {"app_label": "policies", "model_name": "spendpolicy", "field_name": "user"}
    assert client_for(owner).get("/admin/autocomplete/", params).status_code == 403


def test_roles_are_labelled_with_their_organization(org_admin: Any) -> None:
    org = org_services.organization_upsert(slug="acme", plan="enterprise")
    org_services.role_upsert(
        organization=org,
        name="gateway-user",
        permissions=["gateway:invoke", "workspaces:read"],
    )
    page = client_for(org_admin).get("/admin/orgs/servicekey/add/").content.decode()
    assert "gateway-user (acme)" in page and "WORKSPACE_ADMIN (built-in)" in page
