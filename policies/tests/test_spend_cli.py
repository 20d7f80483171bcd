"""manage.py gateway_spend_limit through call_command."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from orgs.models import AuditLogEntry
from policies.spend.models import SpendPolicy

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("gateway_spend_limit", *args, stdout=out)
    return out.getvalue()


def test_it_creates_a_limit_for_each_scope(owner: Any) -> None:
    run("--scope", "organization", "--subject", "acme", "--window", "monthly", "--usd", "1000")
    run(
        "--scope",
        "workspace",
        "--subject",
        "acme/main",
        "--window",
        "daily",
        "--usd",
        "50",
        "--name",
        "main daily",
    )
    run(
        "--scope",
        "api_key",
        "--subject",
        owner.key.display_prefix,
        "--window",
        "hourly",
        "--usd",
        "5",
    )
    out = run(
        "--scope", "user", "--subject", "ALICE@acme.test", "--window", "weekly", "--usd", "20.5"
    )
    assert "weekly $20.500000" in out
    rows = {p.name: p for p in SpendPolicy.objects.all()}
    assert rows["main daily"].workspace == owner.workspace
    assert rows[f"api_key {owner.key.display_prefix}"].api_key == owner.key
    assert rows["user ALICE@acme.test"].user == owner.user
    assert {p.organization.slug for p in rows.values()} == {"acme"}
    assert AuditLogEntry.objects.filter(action="spend_policy.create").count() == 4


def test_it_updates_a_policy_by_name_and_audits_before_and_after(owner: Any) -> None:
    run(
        "--scope",
        "organization",
        "--subject",
        "acme",
        "--window",
        "monthly",
        "--usd",
        "10",
        "--name",
        "cap",
    )
    run(
        "--scope",
        "organization",
        "--subject",
        "acme",
        "--window",
        "monthly",
        "--usd",
        "20",
        "--window",
        "daily",
        "--usd",
        "2",
        "--name",
        "cap",
    )
    policy = SpendPolicy.objects.get(name="cap")
    assert {w.window: str(w.limit_usd) for w in policy.windows.all()} == {
        "monthly": "20.000000",
        "daily": "2.000000",
    }
    entry = AuditLogEntry.objects.filter(action="spend_policy.update").get()
    assert entry.before["windows"] == {"monthly": "10.000000"}
    assert entry.after["windows"]["daily"] == "2.000000"


def test_it_creates_default_per_member_policies(owner: Any) -> None:
    run(
        "--scope",
        "api_key",
        "--subject",
        "acme/main",
        "--window",
        "monthly",
        "--usd",
        "200",
        "--default-per-member",
    )
    run(
        "--scope",
        "user",
        "--subject",
        "acme",
        "--window",
        "monthly",
        "--usd",
        "100",
        "--default-per-member",
    )
    run(
        "--scope",
        "workspace",
        "--subject",
        "acme",
        "--window",
        "monthly",
        "--usd",
        "300",
        "--default-per-member",
    )
    kinds = set(SpendPolicy.objects.values_list("scope", "kind", "workspace_id"))
    assert kinds == {
        ("api_key", "default_per_member", owner.workspace.pk),
        ("user", "default_per_member", None),
        ("workspace", "default_per_member", None),
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--scope", "organization", "--subject", "nope", "--window", "daily", "--usd", "1"],
            "no organization 'nope'",
        ),
        (
            ["--scope", "workspace", "--subject", "acme/nope", "--window", "daily", "--usd", "1"],
            "no workspace 'acme/nope'",
        ),
        (
            ["--scope", "api_key", "--subject", "gw_sk_missing", "--window", "daily", "--usd", "1"],
            "no API key",
        ),
        (
            ["--scope", "user", "--subject", "ghost@acme.test", "--window", "daily", "--usd", "1"],
            "no user",
        ),
        (
            ["--scope", "organization", "--subject", "acme", "--window", "daily", "--usd", "-3"],
            "non-negative",
        ),
        (
            ["--scope", "organization", "--subject", "acme", "--window", "daily", "--usd", "lots"],
            "not an amount",
        ),
        (
            ["--scope", "organization", "--subject", "acme", "--window", "daily", "--usd", "1e9"],
            "below",
        ),
        (
            [
                "--scope",
                "organization",
                "--subject",
                "acme",
                "--window",
                "daily",
                "--usd",
                "1",
                "--default-per-member",
            ],
            "use kind 'total'",
        ),
    ],
)
def test_bad_input_gets_a_clear_error(owner: Any, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not SpendPolicy.objects.exists()


def test_it_sets_a_fallback_price_for_unpriced_models(owner: Any) -> None:
    run(
        "--scope",
        "organization",
        "--subject",
        "acme",
        "--window",
        "daily",
        "--usd",
        "5",
        "--name",
        "cap",
        "--unpriced",
        "fallback",
        "--fallback-input",
        "1",
        "--fallback-output",
        "4",
    )
    p = SpendPolicy.objects.get(name="cap")
    assert (p.unpriced_models, str(p.fallback_input_per_mtok), str(p.fallback_output_per_mtok)) == (
        "fallback",
        "1.000000",
        "4.000000",
    )
    with pytest.raises(CommandError, match="needs both fallback prices"):
        run(
            "--scope",
            "organization",
            "--subject",
            "acme",
            "--window",
            "daily",
            "--usd",
            "5",
            "--name",
            "other",
            "--unpriced",
            "fallback",
            "--fallback-input",
            "1",
        )
