"""Rate limits and model access among the effective policies: the CLI's --show and the admin's
Effective policies page say what applies to a key, a user, a workspace or an organization and
where it comes from; an organization's default-per-member rate limits list their members' use
read from the live counters (Redis, or the database), as the rate-limit admin page does."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from policies.modelaccess.services import model_access_upsert
from policies.ratelimit.gate import RateLimitGate
from policies.tests.ratelimit_helpers import rate_policy
from policies.tests.spend_helpers import drive, make_call, policy, store_mode  # noqa: F401
from pricing.table import Usage

pytestmark = pytest.mark.django_db
URL = "/admin/policies/effective/"


def show(command: str, scope: str, subject: str) -> dict[str, Any]:
    out = StringIO()
    call_command(command, "--show", "--scope", scope, "--subject", subject, stdout=out)
    return json.loads(out.getvalue())


def by_policy(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {line["policy"]: line for line in lines}


def client_for(persona: Any) -> Client:
    c = Client()
    c.force_login(persona.user)
    return c


def world(persona: Any) -> None:
    """Rate limits at every level and model access on the workspace and on the key."""
    rate_policy(persona, "org rpm", "organization", {"minute": (1000, None)})
    rate_policy(persona, "each key", "api_key", {"minute": (60, None)}, kind="default_per_member")
    rate_policy(persona, "each user", "user", {"hour": (500, None)}, kind="default_per_member")
    rate_policy(persona, "alice rpm", "user", {"minute": (120, 9000)}, user=persona.user)
    policy(persona, "each key $", "api_key", {"daily": "1"}, kind="default_per_member")
    policy(persona, "ws $", "workspace", {"daily": "5"}, workspace=persona.workspace)
    model_access_upsert(
        organization=persona.organization,
        name="main models",
        scope="workspace",
        workspace=persona.workspace,
        models={"openai": "gpt-4o-mini", "anthropic": "*"},
    )
    model_access_upsert(
        organization=persona.organization,
        name="ci key",
        scope="api_key",
        api_key=persona.key,
        models={"gemini": "gemini-2.5-*"},
    )


def test_show_lists_a_keys_rate_limits_and_model_access_with_their_origin(owner: Any) -> None:
    world(owner)
    for command in ("gateway_rate_limit", "gateway_model_access", "gateway_spend_limit"):
        shown = show(command, "api_key", owner.key.display_prefix)
        rates = by_policy(shown["rate_limits"])
        assert set(rates) == {"org rpm", "each key", "alice rpm"}  # "each user": replaced
        assert rates["org rpm"]["origin"] == "inherited"
        assert rates["each key"]["origin"] == "default per member"
        assert rates["each key"]["applies_to"].startswith("this key")
        assert rates["alice rpm"]["origin"] == "inherited"  # the key's user's own policy
        assert {(w["metric"], w["limit"], w["used"]) for w in rates["alice rpm"]["windows"]} == {
            ("requests", 120, 0),
            ("tokens", 9000, 0),
        }
        spend = by_policy(shown["spend_limits"])
        assert spend["each key $"]["origin"] == "default per member"
        (access,) = shown["model_access"]
        assert access["origin"] == "own" and access["tier"].startswith("key ")
        assert [p["models"] for p in access["policies"]] == [{"gemini": "gemini-2.5-*"}]
        assert access["overridden"] == ["main models"]


def test_show_says_a_users_own_limit_overrides_the_default_per_member(owner: Any) -> None:
    world(owner)
    shown = show("gateway_rate_limit", "user", owner.user.email)
    rates = by_policy(shown["rate_limits"])
    assert rates["alice rpm"]["origin"] == "override"
    assert rates["alice rpm"]["replaces"] == ["each user"]
    assert "each user" not in rates and "each key" not in rates
    (access,) = shown["model_access"]  # alice's calls in main, by keys with no policy
    assert access["origin"] == "inherited" and access["tier"] == "workspace acme/main"
    assert access["policies"][0]["models"] == {"openai": "gpt-4o-mini", "anthropic": "*"}


def test_show_for_a_workspace_and_an_organization(owner: Any) -> None:
    world(owner)
    ws = show("gateway_model_access", "workspace", "acme/main")
    assert set(by_policy(ws["rate_limits"])) == {"org rpm"}
    assert ws["model_access"][0]["origin"] == "own"
    assert any("model-access policy of their own" in n for n in ws["notes"])
    org = show("gateway_rate_limit", "organization", "acme")
    rates = by_policy(org["rate_limits"])
    assert rates["org rpm"]["origin"] == "own"
    assert rates["each key"]["origin"] == "default per member"
    assert rates["each key"]["members"] == []  # nobody has called yet
    assert org["model_access"][0]["tier"] == "workspace acme/main"


def test_show_without_any_policy_is_not_an_error(owner: Any) -> None:
    shown = show("gateway_model_access", "workspace", "acme/main")
    assert shown["rate_limits"] == []
    assert shown["model_access"][0]["policies"] == []
    assert "every model" in shown["model_access"][0]["summary"]


def test_the_admin_page_shows_rate_limits_and_model_access(org_admin: Any) -> None:
    world(org_admin)
    c = client_for(org_admin)
    page = c.get(URL, {"key": org_admin.key.display_prefix}).content.decode()
    assert "Rate limits" in page and "Model access" in page
    assert "each key" in page and "Default per member" in page
    assert "Inherited from organization acme" in page
    assert "gemini gemini-2.5-*" in page and "main models (workspace acme/main)" in page
    page = c.get(
        URL, {"organization": org_admin.organization.pk, "user": org_admin.user.email}
    ).content.decode()
    assert "Own policy, overriding the default per member each user" in page


def test_another_organizations_limits_are_not_shown(org_admin: Any, outsider: Any) -> None:
    rate_policy(outsider, "their rpm", "organization", {"minute": (5, None)})
    model_access_upsert(
        organization=outsider.organization,
        name="their models",
        scope="workspace",
        workspace=outsider.workspace,
        models={"openai": "*"},
    )
    c = client_for(org_admin)
    for query in (
        {"organization": outsider.organization.pk},
        {"workspace": outsider.workspace.pk},
        {"key": outsider.key.display_prefix},
        {"organization": outsider.organization.pk, "user": outsider.user.email},
    ):
        page = c.get(URL, query).content.decode()
        assert "their rpm" not in page and "their models" not in page, query
        assert "Effective policies: " not in page


@pytest.mark.usefixtures("store_mode")
@drive
async def test_an_organizations_default_per_member_lists_its_members_live_use(
    org_admin: Any, member: Any
) -> None:
    from asgiref.sync import sync_to_async

    each_key = await sync_to_async(rate_policy)(
        org_admin, "each key", "api_key", {"minute": (60, None)}, kind="default_per_member"
    )
    gate = RateLimitGate()
    for persona, calls in ((org_admin, 3), (member, 1)):
        for _ in range(calls):
            call = make_call(persona)
            await gate.before(call)
            call.sent_body, call.usage = b"{}", Usage(input_tokens=1, output_tokens=1)
            await gate.after(call)

    def read() -> tuple[dict[str, Any], str, str]:
        shown = show("gateway_rate_limit", "organization", "acme")
        c = client_for(org_admin)
        page = c.get(URL, {"organization": org_admin.organization.pk}).content.decode()
        change = c.get(f"/admin/policies/ratelimitpolicy/{each_key.pk}/change/").content.decode()
        return shown, page, change

    shown, page, change = await sync_to_async(read)()
    (line,) = [r for r in shown["rate_limits"] if r["policy"] == "each key"]
    used = {m["label"]: m["usage"][0]["used"] for m in line["members"]}
    assert used == {f"key {org_admin.key.display_prefix}": 3, f"key {member.key.display_prefix}": 1}
    assert f"key {org_admin.key.display_prefix}: requests per minute 3 of 60" in page
    assert f"key {member.key.display_prefix}: requests per minute: 1 of 60" in change
