"""The effective policy of a workspace, a key or a user: the admin page and the CLI's --show,
also when only an organization-wide or a key policy applies."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from policies.redaction.services import redaction_policy_set
from policies.tests.spend_helpers import policy

pytestmark = pytest.mark.django_db
URL = "/admin/policies/effective/"


def show(*args: str) -> dict[str, Any]:
    out = StringIO()
    call_command(*args, "--show", stdout=out)
    return json.loads(out.getvalue())


def test_redaction_show_works_with_only_an_organization_policy(owner: Any) -> None:
    redaction_policy_set(organization=owner.organization, scope="organization")
    shown = show("gateway_redaction", "acme/main")
    assert shown["own_policy"] is None
    assert shown["redaction"][0]["policy_scope"] == "organization acme"
    shown = show("gateway_redaction", "acme", "--key", owner.key.display_prefix)
    assert shown["own_policy"] is None and "PII" in shown["redaction"][0]["summary"]


def test_the_most_specific_policy_wins_for_a_key(owner: Any) -> None:
    redaction_policy_set(organization=owner.organization, scope="organization")
    redaction_policy_set(
        organization=owner.organization,
        scope="api_key",
        api_key=owner.key,
        pii_enabled=False,
        secrets_enabled=False,
    )
    key_view = show("gateway_redaction", "acme", "--key", owner.key.display_prefix)
    assert key_view["own_policy"]["scope"] == "api_key"
    assert "exempts them" in key_view["redaction"][0]["summary"]
    ws_view = show("gateway_redaction", "acme/main")
    assert ws_view["redaction"][0]["policy_scope"] == "organization acme"
    assert any("policy of their own" in n for n in ws_view["notes"])


def test_a_user_sees_each_workspace(owner: Any) -> None:
    redaction_policy_set(organization=owner.organization, scope="user", user=owner.user)
    shown = show("gateway_redaction", "acme", "--user", "ALICE@acme.test")
    assert shown["redaction"][0]["policy_scope"] == "user alice@acme.test"


def test_spend_show_lists_every_limit_that_applies(owner: Any) -> None:
    policy(owner, "org cap", "organization", {"monthly": "100"})
    policy(owner, "ws cap", "workspace", {"daily": "5"}, workspace=owner.workspace)
    policy(owner, "each key", "api_key", {"daily": "1"}, kind="default_per_member")
    shown = show("gateway_spend_limit", "--scope", "api_key", "--subject", owner.key.display_prefix)
    names = {line["policy"] for line in shown["spend_limits"]}
    assert names == {"org cap", "ws cap", "each key"}
    ws = show("gateway_spend_limit", "--scope", "workspace", "--subject", "acme/main")
    assert {line["policy"] for line in ws["spend_limits"]} == {"org cap", "ws cap"}
    assert ws["spend_limits"][0]["windows"][0]["spent_usd"] == "0.000000"


def test_spend_show_without_any_limit_is_not_an_error(owner: Any) -> None:
    shown = show("gateway_spend_limit", "--scope", "workspace", "--subject", "acme/main")
    assert shown["spend_limits"] == []


def test_the_admin_page_shows_a_keys_effective_policies(org_admin: Any) -> None:
    redaction_policy_set(organization=org_admin.organization, scope="organization")
    policy(org_admin, "org cap", "organization", {"monthly": "100"})
    c = Client()
    c.force_login(org_admin.user)
    page = c.get(URL, {"key": org_admin.key.display_prefix}).content.decode()
    assert "Effective policies: key" in page and "org cap" in page
    assert "redaction: organization acme" in page
    index = c.get("/admin/").content.decode()
    assert URL in index


def test_the_admin_page_answers_not_found_for_another_orgs_key(
    org_admin: Any, outsider: Any
) -> None:
    c = Client()
    c.force_login(org_admin.user)
    page = c.get(URL, {"key": outsider.key.display_prefix}).content.decode()
    assert "Not found" in page and outsider.key.display_prefix not in page.split("Not found")[1]
