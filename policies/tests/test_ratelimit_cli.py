"""manage.py gateway_rate_limit through call_command."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from orgs.models import AuditLogEntry
from policies.ratelimit.models import RateLimitPolicy

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("gateway_rate_limit", *args, stdout=out)
    return out.getvalue()


def test_it_creates_a_limit_for_each_scope(owner: Any) -> None:
    run("--scope", "organization", "--subject", "acme", "--window", "minute", "--requests", "600")
    run("--scope", "workspace", "--subject", "acme/main", "--window", "hour", "--tokens", "90000")
    run(
        "--scope",
        "api_key",
        "--subject",
        owner.key.display_prefix,
        "--window",
        "minute",
        "--requests",
        "5",
        "--tokens",
        "1000",
    )
    run("--scope", "user", "--subject", "ALICE@acme.test", "--window", "minute", "--requests", "9")
    out = run(
        "--scope",
        "customer",
        "--subject",
        "acme/main:cust-42",
        "--window",
        "hour",
        "--requests",
        "100",
        "--name",
        "cust 42",
    )
    assert "customer 'cust-42' of workspace acme/main" in out and "100 requests per hour" in out
    policies = {p.scope: p for p in RateLimitPolicy.objects.all()}
    assert set(policies) == {"organization", "workspace", "api_key", "user", "customer"}
    assert policies["customer"].customer == "cust-42"
    assert policies["customer"].workspace == owner.workspace
    assert policies["api_key"].api_key == owner.key
    assert AuditLogEntry.objects.filter(action="rate_limit.create").count() == 5


def test_default_per_member_and_a_second_window_on_the_same_policy(owner: Any) -> None:
    args = [
        "--scope",
        "customer",
        "--subject",
        "acme/main",
        "--default-per-member",
        "--name",
        "each",
    ]
    run(*args, "--window", "minute", "--requests", "60")
    out = run(*args, "--window", "hour", "--requests", "1000")
    assert "60 requests per minute" in out and "1000 requests per hour" in out
    (policy,) = RateLimitPolicy.objects.all()
    assert policy.kind == "default_per_member" and policy.customer == ""
    entry = AuditLogEntry.objects.filter(action="rate_limit.update").get()
    assert entry.after["limits"]["hour"] == {"requests": 1000, "tokens": None}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--scope", "workspace", "--subject", "acme/main", "--window", "minute"],
            "--requests N and/or --tokens N",
        ),
        (
            [
                "--scope",
                "workspace",
                "--subject",
                "acme/main",
                "--window",
                "minute",
                "--requests",
                "0",
            ],
            "between 1 and",
        ),
        (
            [
                "--scope",
                "workspace",
                "--subject",
                "acme/main",
                "--window",
                "minute",
                "--requests",
                "x",
            ],
            "whole number",
        ),
        (
            [
                "--scope",
                "workspace",
                "--subject",
                "acme/nope",
                "--window",
                "minute",
                "--requests",
                "1",
            ],
            "nope",
        ),
        (
            [
                "--scope",
                "customer",
                "--subject",
                "acme/main",
                "--window",
                "minute",
                "--requests",
                "1",
            ],
            "ORG/WS:CUSTOMER_ID",
        ),
        (
            [
                "--scope",
                "customer",
                "--subject",
                f"acme/main:{'c' * 129}",
                "--window",
                "minute",
                "--requests",
                "1",
            ],
            "at most 128",
        ),
        (
            ["--scope", "organization", "--subject", "acme", "--window", "day", "--requests", "1"],
            "day",
        ),
        (
            [
                "--scope",
                "organization",
                "--subject",
                "acme",
                "--default-per-member",
                "--window",
                "minute",
                "--requests",
                "1",
            ],
            "no members",
        ),
    ],
)
def test_bad_input_is_one_clear_error(owner: Any, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not RateLimitPolicy.objects.exists()
