"""manage.py gateway_redaction: set or show the PII and secrets redaction policy of a scope.

    gateway_redaction ORG/WS --pii on|off --secrets on|off [--system-prompts on|off]
                      [--restore on|off] [--on-timeout allow|block] [--timeout-ms N]
                      [--custom NAME=REGEX ...] [--pii-rules a,b] [--secret-rules a,b]
    gateway_redaction ORG ...                   (the organization-wide policy)
    gateway_redaction ORG/WS --key gw_sk_LOOKUP ...   /   --user EMAIL ...
    gateway_redaction ORG/WS --show | --delete     (also ORG, --key, --user)

--show prints, as JSON, the subject's own policy (or null) and the effective policy of its
calls: the most specific enabled policy (key, user, workspace, organization), per workspace
for a user or an organization, plus the notes that matter (gateway off, organization-scoped
key). Options not given keep their value. --custom replaces the custom patterns (give it several
times; --custom "" clears them). Person names, street addresses and locations are detected
offline; NRP needs an NER model (GATEWAY_PII_NLP_MODEL). Rule ids: see --pii-rules/--secret-rules
help, or policies/redaction/rules.py.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser

from orgs import services as org_services
from orgs.cli import GatewayCommand, organization_get
from policies.redaction.models import RedactionPolicy
from policies.redaction.rules import NER_RULE_IDS, PII_RULE_IDS, SECRET_RULE_IDS
from policies.redaction.services import policy_state, redaction_policy_delete, redaction_policy_set

ON_OFF = {"on": True, "off": False}


class Command(GatewayCommand):
    help = "Set or show a redaction policy (organization, workspace, API key or user)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("target", metavar="ORG[/WS]")
        parser.add_argument(
            "--key", metavar="GW_KEY_PREFIX", help="policy of one API key (gw_sk_<lookup>)"
        )
        parser.add_argument(
            "--user", metavar="EMAIL", help="policy of one user in the organization"
        )
        parser.add_argument("--pii", choices=ON_OFF)
        parser.add_argument("--secrets", choices=ON_OFF)
        parser.add_argument("--system-prompts", choices=ON_OFF)
        parser.add_argument("--restore", choices=ON_OFF)
        parser.add_argument("--on-timeout", choices=("allow", "block"))
        parser.add_argument("--timeout-ms", type=int)
        parser.add_argument("--custom", action="append", metavar="NAME=REGEX")
        parser.add_argument(
            "--pii-rules",
            metavar="a,b",
            help="PII rules to apply (default: all but nrp): " + ",".join(PII_RULE_IDS),
        )
        parser.add_argument(
            "--secret-rules",
            metavar="a,b",
            help="secret rules to apply (default: all): " + ",".join(SECRET_RULE_IDS),
        )
        parser.add_argument(
            "--disable", action="store_true", help="keep the policy but stop applying it"
        )
        parser.add_argument("--enable", action="store_true")
        parser.add_argument("--show", action="store_true")
        parser.add_argument("--delete", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        subject = self._subject(options)
        if options["show"] and options["delete"]:
            raise CommandError("--show or --delete, not both")
        if options["show"]:
            policy = RedactionPolicy.objects.filter(**subject).first()
            shown = {
                "own_policy": policy_state(policy) if policy else None,
                **_effective(subject).as_dict(),
            }
            self.stdout.write(json.dumps(shown, indent=2, default=str))
            return
        if options["delete"]:
            policy = RedactionPolicy.objects.filter(**subject).first()
            if policy is None:
                raise CommandError("no redaction policy of its own for this scope")
            redaction_policy_delete(policy=policy, actor_label="cli")
            self.stdout.write(f"deleted {policy.name}")
            return
        policy = redaction_policy_set(**subject, actor_label="cli", **_fields(options))
        state = policy_state(policy)
        self.stdout.write(
            f"{policy.name}: pii={'on' if state['pii_enabled'] else 'off'} "
            f"secrets={'on' if state['secrets_enabled'] else 'off'} "
            f"system-prompts={'on' if state['scan_system_prompts'] else 'off'} "
            f"restore={'on' if state['restore_responses'] else 'off'} "
            f"timeout={state['timeout_ms']}ms on-timeout={state['on_timeout']} "
            f"custom={len(state['custom_patterns'])}"
        )
        if NER_RULE_IDS & set(state["pii_rules"]):
            self.stderr.write("note: nrp needs GATEWAY_PII_NLP_MODEL (an NER model)")

    def _subject(self, options: dict[str, Any]) -> dict[str, Any]:
        target: str = options["target"]
        organization = organization_get(target.split("/", 1)[0])
        workspace = None
        if "/" in target:
            workspace = org_services.workspace_get_by_path(target)
        if options["key"]:
            key = org_services.api_key_find(options["key"])
            if key is None or key.organization_id != organization.pk:
                raise CommandError(f"no key {options['key']!r} in {organization.slug}")
            return {"organization": organization, "scope": "api_key", "api_key": key}
        if options["user"]:
            user = get_user_model().objects.filter(email__iexact=options["user"]).first()
            if user is None:
                raise CommandError(f"no user {options['user']!r}")
            return {"organization": organization, "scope": "user", "user": user}
        if workspace is not None:
            return {"organization": organization, "scope": "workspace", "workspace": workspace}
        return {"organization": organization, "scope": "organization"}


def _effective(subject: dict[str, Any]) -> Any:
    # Imported when asked: it loads the redaction scanner's module.
    from policies.effective import (
        effective_for_key,
        effective_for_organization,
        effective_for_user,
        effective_for_workspace,
    )

    if subject["scope"] == "api_key":
        return effective_for_key(subject["api_key"])
    if subject["scope"] == "user":
        return effective_for_user(subject["user"], subject["organization"])
    if subject["scope"] == "workspace":
        return effective_for_workspace(subject["workspace"])
    return effective_for_organization(subject["organization"])


def _fields(options: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for option, field in (
        ("pii", "pii_enabled"),
        ("secrets", "secrets_enabled"),
        ("system_prompts", "scan_system_prompts"),
        ("restore", "restore_responses"),
    ):
        if options[option] is not None:
            fields[field] = ON_OFF[options[option]]
    if options["on_timeout"]:
        fields["on_timeout"] = options["on_timeout"]
    if options["timeout_ms"] is not None:
        fields["timeout_ms"] = options["timeout_ms"]
    if options["pii_rules"] is not None:
        fields["pii_rules"] = [r for r in options["pii_rules"].split(",") if r]
    if options["secret_rules"] is not None:
        fields["secret_rules"] = [r for r in options["secret_rules"].split(",") if r]
    if options["custom"] is not None:
        fields["custom_patterns"] = [_custom(item) for item in options["custom"] if item]
    if options["disable"] and options["enable"]:
        raise CommandError("--enable or --disable, not both")
    if options["disable"] or options["enable"]:
        fields["enabled"] = bool(options["enable"])
    return fields


def _custom(item: str) -> dict[str, str]:
    name, sep, pattern = item.partition("=")
    if not sep:
        raise CommandError(f"--custom takes NAME=REGEX, not {item!r}")
    return {"name": name, "pattern": pattern}
