"""`manage.py gateway_rate_limit`: create or update a rate limit.

    manage.py gateway_rate_limit --scope workspace --subject acme/main --window minute \\
        --requests 600 --tokens 200000
    manage.py gateway_rate_limit --scope customer --subject acme/main:cust-42 --window hour \\
        --requests 1000
    manage.py gateway_rate_limit --scope customer --subject acme/main --window minute \\
        --requests 60 --default-per-member --name "each customer of main"

SUBJECT as for gateway_spend_limit (policies/cli.py); a customer is ORG/WS:CUSTOMER_ID, and with
--default-per-member ORG/WS (every customer of that workspace) or the organization slug. The
policy is named after scope and subject unless --name is given; running the command again with
the same name sets that window's limits (its other windows are kept). Runs as the platform
operator; every change is audit-logged.

    manage.py gateway_rate_limit --show --scope api_key --subject gw_sk_abcdefghijkl

--show prints, as JSON, everything that applies to the subject's calls, as gateway_spend_limit
--show does: rate limits with their current use and where each comes from, spend limits, model
access, redaction.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandError, CommandParser

from orgs.cli import GatewayCommand
from policies.cli import show_effective, subject_from_cli
from policies.ratelimit.models import RateLimitPolicy, RateWindow
from policies.ratelimit.services import parse_count, rate_limit_upsert


class Command(GatewayCommand):
    help = "Create or update a rate limit (requests and/or tokens per minute or hour)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scope", required=True, choices=RateLimitPolicy.Scope.values)
        parser.add_argument(
            "--subject",
            required=True,
            help="org slug, ORG/WS, key id or prefix, user email, ORG/WS:CUSTOMER_ID",
        )
        parser.add_argument("--window", choices=RateWindow.values)
        parser.add_argument("--requests", help="most requests in any window-long stretch")
        parser.add_argument("--tokens", help="most tokens (input + output) in the window")
        parser.add_argument("--default-per-member", action="store_true")
        parser.add_argument("--name", help="policy name (default: derived from scope and subject)")
        parser.add_argument("--disable", action="store_true", help="store the policy disabled")
        parser.add_argument(
            "--show", action="store_true", help="show what applies to the subject's calls"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["show"]:
            shown = show_effective(opts["scope"], opts["subject"])
            self.stdout.write(json.dumps(shown, indent=2))
            return
        if not opts["window"]:
            raise CommandError("give --window minute|hour (or --show)")
        requests = parse_count(opts["requests"], "--requests")
        tokens = parse_count(opts["tokens"], "--tokens")
        if requests is None and tokens is None:
            raise CommandError("give --requests N and/or --tokens N")
        per_member = opts["default_per_member"]
        subject = subject_from_cli(opts["scope"], opts["subject"], per_member=per_member)
        kind = "each member of " if per_member else ""
        name = opts["name"] or f"{opts['scope']} {kind}{opts['subject']} rate"[:200]
        policy = rate_limit_upsert(
            organization=subject["organization"],
            name=name,
            scope=opts["scope"],
            kind="default_per_member" if per_member else "total",
            workspace=subject.get("workspace"),
            api_key=subject.get("api_key"),
            user=subject.get("user"),
            customer=subject.get("customer", ""),
            limits={opts["window"]: (requests, tokens)},
            enabled=not opts["disable"],
        )
        limits = ", ".join(str(limit) for limit in policy.limits.all())
        self.stdout.write(
            f"rate limit {policy.name!r} (id {policy.pk}) in {policy.organization.slug} "
            f"on {policy.subject_label}: {limits}"
        )
