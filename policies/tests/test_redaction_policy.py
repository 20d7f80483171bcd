"""Redaction policies: services (validation, audit), the CLI, and which policy applies."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from orgs.models import AuditLogEntry
from policies.redaction.models import RedactionPolicy
from policies.redaction.services import redaction_policy_set
from policies.redaction.snapshot import effective_policy, load_policies

pytestmark = pytest.mark.django_db


def test_a_new_policy_has_the_safe_defaults(owner):
    policy = redaction_policy_set(organization=owner.organization, scope="organization")
    assert policy.pii_enabled and policy.secrets_enabled and policy.scan_system_prompts
    assert policy.restore_responses and policy.timeout_ms == 2000 and policy.on_timeout == "block"
    assert {"email", "person", "street_address", "location", "national_id"} <= set(policy.pii_rules)
    assert "nrp" not in policy.pii_rules  # needs an NER model
    assert "github" in policy.secret_rules


def test_changes_are_audited_with_before_and_after(owner):
    redaction_policy_set(
        organization=owner.organization,
        scope="workspace",
        workspace=owner.workspace,
        actor=owner.user,
    )
    redaction_policy_set(
        organization=owner.organization,
        scope="workspace",
        workspace=owner.workspace,
        actor=owner.user,
        pii_enabled=False,
    )
    entry = AuditLogEntry.objects.filter(action="redaction_policy.update").get()
    assert entry.before["pii_enabled"] is True and entry.after["pii_enabled"] is False
    assert entry.actor == owner.user and entry.workspace == owner.workspace


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"pii_rules": ["email", "dna"]}, "unknown PII rules: dna"),
        ({"timeout_ms": 5}, "scan time limit"),
        ({"on_timeout": "maybe"}, "block or allow"),
        ({"custom_patterns": [{"name": "x", "pattern": "(a+)+$"}]}, "too slow"),
        ({"custom_patterns": [{"name": "x", "pattern": "a*"}]}, "empty string"),
        ({"custom_patterns": [{"name": "x", "pattern": "("}]}, "not a valid regex"),
        (
            {"custom_patterns": [{"name": f"p{i}", "pattern": "x{3}"} for i in range(11)]},
            "at most 10",
        ),
    ],
)
def test_bad_settings_are_refused_with_a_clear_reason(owner, fields, message):
    with pytest.raises(ValidationError, match=message):
        redaction_policy_set(organization=owner.organization, scope="organization", **fields)
    assert not RedactionPolicy.objects.exists()


def test_another_organizations_workspace_cannot_be_targeted(owner, outsider):
    with pytest.raises(ValidationError, match="workspace of this organization"):
        redaction_policy_set(
            organization=owner.organization, scope="workspace", workspace=outsider.workspace
        )


def test_the_most_specific_policy_wins(owner, member):
    org = owner.organization
    redaction_policy_set(organization=org, scope="organization", name="org")
    redaction_policy_set(organization=org, scope="workspace", workspace=owner.workspace, name="ws")
    redaction_policy_set(organization=org, scope="user", user=member.user, name="bob")
    redaction_policy_set(organization=org, scope="api_key", api_key=owner.key, name="alice key")
    policies = load_policies()[org.pk]

    def pick(**kw):
        return effective_policy(policies, **kw).name

    assert (
        pick(workspace_id=owner.workspace.pk, key_id=owner.key.pk, user_id=owner.user.pk)
        == "alice key"
    )
    assert (
        pick(workspace_id=owner.workspace.pk, key_id=member.key.pk, user_id=member.user.pk) == "bob"
    )
    assert pick(workspace_id=owner.workspace.pk, key_id=999, user_id=None) == "ws"
    assert pick(workspace_id=999, key_id=999, user_id=None) == "org"


def test_a_disabled_policy_does_not_apply(owner):
    redaction_policy_set(organization=owner.organization, scope="organization", enabled=False)
    assert load_policies() == {}


def test_the_cli_sets_a_workspace_policy(owner):
    out = StringIO()
    call_command(
        "gateway_redaction",
        "acme/main",
        "--pii",
        "off",
        "--secrets",
        "on",
        "--system-prompts",
        "off",
        "--restore",
        "off",
        "--on-timeout",
        "allow",
        "--timeout-ms",
        "500",
        "--custom",
        r"employee=EMP-\d{6}",
        stdout=out,
    )
    policy = RedactionPolicy.objects.get(scope="workspace", workspace=owner.workspace)
    assert not policy.pii_enabled and policy.secrets_enabled and not policy.scan_system_prompts
    assert (
        not policy.restore_responses and policy.on_timeout == "allow" and policy.timeout_ms == 500
    )
    assert policy.custom_patterns == [{"name": "employee", "pattern": r"EMP-\d{6}"}]
    assert "pii=off secrets=on" in out.getvalue()
    assert AuditLogEntry.objects.filter(
        action="redaction_policy.create", actor_label="cli"
    ).exists()


def test_the_cli_refuses_bad_input_in_one_line(owner):
    with pytest.raises(CommandError, match="too slow"):
        call_command("gateway_redaction", "acme/main", "--custom", "bad=(a+)+$")
    with pytest.raises(CommandError, match="NAME=REGEX"):
        call_command("gateway_redaction", "acme", "--custom", "nope")
    with pytest.raises(CommandError, match="no workspace"):
        call_command("gateway_redaction", "acme/nope", "--pii", "on")


def test_the_cli_shows_and_deletes(owner):
    call_command("gateway_redaction", "acme", "--pii", "on")
    out = StringIO()
    call_command("gateway_redaction", "acme", "--show", stdout=out)
    assert '"pii_enabled": true' in out.getvalue()
    call_command("gateway_redaction", "acme", "--delete", stdout=StringIO())
    assert not RedactionPolicy.objects.exists()
    assert AuditLogEntry.objects.filter(action="redaction_policy.delete").exists()


def test_a_user_policy_needs_a_member_of_the_organization(owner, outsider):
    with pytest.raises(ValidationError, match="member of this organization"):
        redaction_policy_set(organization=owner.organization, scope="user", user=outsider.user)
    with pytest.raises(ValidationError, match="key of this organization"):
        redaction_policy_set(organization=owner.organization, scope="api_key", api_key=outsider.key)


def test_the_cli_switches_names_and_addresses_off_and_the_snapshot_drops_them(owner):
    out = StringIO()
    call_command(
        "gateway_redaction",
        owner.organization.slug,
        "--pii",
        "on",
        "--pii-rules",
        "email,phone,national_id",
        stdout=out,
    )
    policy = RedactionPolicy.objects.get(organization=owner.organization, scope="organization")
    assert policy.pii_rules == ["email", "phone", "national_id"]
    (snapshot,) = load_policies()[owner.organization.pk]
    assert {"person", "street_address", "location"}.isdisjoint(snapshot.config.rule_ids)
    with pytest.raises(CommandError, match="unknown PII rules: street"):
        call_command("gateway_redaction", owner.organization.slug, "--pii-rules", "street")


def test_the_migration_adds_the_new_rules_only_where_every_old_rule_was_on(owner, member):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("policies.migrations.0004_redaction_offline_pii_rules")
    old_default = ["email", "phone", "us_ssn", "credit_card", "iban", "ip_address"]
    everything = redaction_policy_set(
        organization=owner.organization, scope="organization", pii_rules=old_default
    )
    narrowed = redaction_policy_set(
        organization=owner.organization,
        scope="workspace",
        workspace=owner.workspace,
        pii_rules=["email"],
    )
    migration.forwards(apps, None)
    everything.refresh_from_db()
    narrowed.refresh_from_db()
    assert everything.pii_rules == [
        "email",
        "phone",
        "us_ssn",
        "national_id",
        "credit_card",
        "iban",
        "ip_address",
        "person",
        "street_address",
        "location",
    ]
    assert narrowed.pii_rules == ["email"]
