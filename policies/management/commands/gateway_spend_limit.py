"""`manage.py gateway_spend_limit`: create or update a spend limit.

    manage.py gateway_spend_limit --scope workspace --subject acme/main --window monthly --usd 500
    manage.py gateway_spend_limit --scope api_key --subject acme/main --window monthly --usd 200 \\
        --default-per-member --name "each key in main"

    manage.py gateway_spend_limit --show --scope workspace --subject acme/main

    manage.py gateway_spend_limit --scope organization --subject acme --window daily --usd 50 \\
        --alert-at 50,80,100 --alert-webhook https://hooks.example.com/gw --alert-email ops@acme.test

SUBJECT: organization slug (organization), ORG/WS (workspace), key id or prefix (api_key),
user email (user), ORG/WS:CUSTOMER_ID (customer; policies/cli.py). --show prints, as JSON, everything that applies to the subject's calls (policies.effective):
every enabled spend limit (its own, broader ones, defaults per member, each with where it comes
from) with the spend of each current window, the rate limits with their current use, the
model-access policies that decide, and the redaction policy. With --default-per-member the subject is the group: the organization slug or
ORG/WS for api_key and user, the organization slug for workspace. The command runs as the
platform operator; every change is audit-logged.

Budget alerts: --alert-at sets the thresholds (percent of each window's limit); --alert-webhook,
--alert-slack and --alert-email (each repeatable) add channels; a new webhook's signing secret
is printed once.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser
from django.db import transaction

from orgs.cli import GatewayCommand
from policies.cli import show_effective, subject_from_cli
from policies.spend.models import SpendPolicy, Window
from policies.spend.services import (
    alert_channel_add,
    alert_thresholds_set,
    parse_limit,
    spend_policy_upsert,
)


class Command(GatewayCommand):
    help = "Create or update a spend limit (USD cap per calendar window)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scope", required=True, choices=SpendPolicy.Scope.values)
        parser.add_argument(
            "--subject", required=True, help="org slug, ORG/WS, key id or prefix, user email"
        )
        parser.add_argument(
            "--show",
            action="store_true",
            help="show the limits that apply to the subject and their current spend",
        )
        parser.add_argument(
            "--window",
            action="append",
            choices=Window.values,
            help="repeat with --usd for several windows",
        )
        parser.add_argument("--usd", action="append", help="limit in USD, one per --window")
        parser.add_argument("--default-per-member", action="store_true")
        parser.add_argument("--name", help="policy name (default: derived from scope and subject)")
        parser.add_argument("--disable", action="store_true", help="store the policy disabled")
        parser.add_argument(
            "--unpriced",
            choices=SpendPolicy.Unpriced.values,
            help="models missing from the price table: refuse (default) or charge the fallback price",
        )
        parser.add_argument("--fallback-input", help="fallback USD per 1M input tokens")
        parser.add_argument("--fallback-output", help="fallback USD per 1M output tokens")
        parser.add_argument(
            "--alert-at",
            metavar="PERCENTS",
            help="budget alerts at these percentages of each window's limit, e.g. 50,80,100 "
            "(an empty string turns them off)",
        )
        parser.add_argument(
            "--alert-webhook",
            action="append",
            default=[],
            metavar="URL",
            help="post signed JSON alerts to URL (repeatable; the signing secret is printed once)",
        )
        parser.add_argument(
            "--alert-slack",
            action="append",
            default=[],
            metavar="URL",
            help="post alerts to a Slack incoming webhook (repeatable)",
        )
        parser.add_argument(
            "--alert-email",
            action="append",
            default=[],
            metavar="ADDR",
            help="e-mail alerts to ADDR through the gateway's mail settings (repeatable)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["show"]:
            self._show(opts["scope"], opts["subject"])
            return
        if not opts["window"] or not opts["usd"]:
            raise CommandError("give at least one --window and its --usd (or --show)")
        if len(opts["window"]) != len(opts["usd"]):
            raise CommandError("give one --usd per --window")
        try:
            windows = {w: parse_limit(u) for w, u in zip(opts["window"], opts["usd"], strict=True)}
            subject = self._subject(
                opts["scope"], opts["subject"], per_member=opts["default_per_member"]
            )
            name = opts["name"] or self._default_name(opts, subject)
            with transaction.atomic():
                policy, secrets = self._save(opts, subject, name, windows)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        limits = ", ".join(f"{w.window} ${w.limit_usd}" for w in policy.windows.all())
        self.stdout.write(
            f"spend limit {policy.name!r} (id {policy.pk}) in {policy.organization.slug}: {limits}"
        )
        if policy.alert_thresholds:
            channels = ", ".join(str(c) for c in policy.alert_channels.all()) or "no channel yet"
            thresholds = ", ".join(f"{t}%" for t in policy.alert_thresholds)
            self.stdout.write(f"budget alerts at {thresholds} to {channels}")
        for url, secret in secrets.items():
            self.stdout.write(f"webhook {url}: signing secret (shown once, store it now): {secret}")

    def _save(
        self, opts: dict[str, Any], subject: dict[str, Any], name: str, windows: dict[str, Any]
    ) -> tuple[SpendPolicy, dict[str, str]]:
        policy = spend_policy_upsert(
            organization=subject["organization"],
            name=name,
            scope=opts["scope"],
            kind="default_per_member" if opts["default_per_member"] else "total",
            workspace=subject.get("workspace"),
            api_key=subject.get("api_key"),
            user=subject.get("user"),
            customer=subject.get("customer", ""),
            windows=windows,
            enabled=not opts["disable"],
            unpriced_models=opts["unpriced"],
            fallback_input_per_mtok=opts["fallback_input"],
            fallback_output_per_mtok=opts["fallback_output"],
        )
        if opts["alert_at"] is not None:
            policy = alert_thresholds_set(policy=policy, thresholds=opts["alert_at"])
        secrets = {}
        for kind, targets in (
            ("webhook", opts["alert_webhook"]),
            ("slack", opts["alert_slack"]),
            ("email", opts["alert_email"]),
        ):
            for target in targets:
                channel, secret = alert_channel_add(policy=policy, kind=kind, target=target)
                if secret:
                    secrets[channel.target] = secret
        return policy, secrets

    def _show(self, scope: str, subject: str) -> None:
        self.stdout.write(json.dumps(show_effective(scope, subject), indent=2))

    @staticmethod
    def _default_name(opts: dict[str, Any], subject: dict[str, Any]) -> str:
        kind = "each member of " if opts["default_per_member"] else ""
        return f"{opts['scope']} {kind}{opts['subject']}"[:200]

    @staticmethod
    def _subject(scope: str, subject: str, *, per_member: bool) -> dict[str, Any]:
        return subject_from_cli(scope, subject, per_member=per_member)
