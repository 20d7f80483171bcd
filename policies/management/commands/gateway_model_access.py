"""`manage.py gateway_model_access`: create or update a model-access policy.

    manage.py gateway_model_access --scope workspace --subject acme/main --provider openai \\
        --models "gpt-4.1*,gpt-4o-mini"
    manage.py gateway_model_access --scope workspace --subject acme/main --provider anthropic \\
        --models "claude-*-haiku-*"
    manage.py gateway_model_access --scope api_key --subject gw_sk_abcdefghijkl --provider gemini \\
        --models "*" --name "ci key: gemini"

SUBJECT as for gateway_spend_limit (policies/cli.py): organization slug, ORG/WS, key id or
prefix, user email. PATTERNS are comma-separated shell-style patterns, `*` for every model of
the provider. The policy is named after scope and subject unless --name is given; running the
command again with the same name sets that provider's patterns and keeps the policy's other
providers (a provider a policy does not list is not allowed by it). Runs as the platform
operator; every change is audit-logged.

    manage.py gateway_model_access --show --scope user --subject alice@example.com

--show prints, as JSON, everything that applies to the subject's calls, as gateway_spend_limit
--show does: per group of calls, the tier whose model-access policies decide, what they allow
and the broader policies they override; spend and rate limits; redaction.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandError, CommandParser

from orgs.cli import GatewayCommand
from policies.cli import show_effective, subject_from_cli
from policies.modelaccess.models import ModelAccessPolicy, Provider
from policies.modelaccess.services import model_access_upsert


class Command(GatewayCommand):
    help = "Create or update a model-access policy (the models of a provider a subject may use)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scope", required=True, choices=ModelAccessPolicy.Scope.values)
        parser.add_argument(
            "--subject", required=True, help="org slug, ORG/WS, key id or prefix, user email"
        )
        parser.add_argument("--provider", choices=Provider.values)
        parser.add_argument("--models", help="comma-separated patterns (gpt-4.1*), * for all")
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
        if not opts["provider"] or opts["models"] is None:
            raise CommandError("give --provider and --models (or --show)")
        subject = subject_from_cli(opts["scope"], opts["subject"], per_member=False)
        name = opts["name"] or f"{opts['scope']} {opts['subject']} models"[:200]
        policy = model_access_upsert(
            organization=subject["organization"],
            name=name,
            scope=opts["scope"],
            workspace=subject.get("workspace"),
            api_key=subject.get("api_key"),
            user=subject.get("user"),
            models={opts["provider"]: opts["models"]},
            enabled=not opts["disable"],
        )
        allowed = "; ".join(str(rule) for rule in policy.rules.all())
        self.stdout.write(
            f"model access {policy.name!r} (id {policy.pk}) in {policy.organization.slug} "
            f"on {policy.subject_label}: {allowed}"
        )
