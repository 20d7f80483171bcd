"""Writes of redaction policies: validation, the audit log and proxy invalidation.

The admin, the CLI and the management API call these; none writes RedactionPolicy directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from orgs.models import ApiKey, Organization, OrganizationMember, Workspace
from orgs.services import audit_record
from policies.redaction.custom import validate_custom_patterns
from policies.redaction.models import RedactionPolicy
from policies.redaction.rules import PII_RULE_IDS, SECRET_RULE_IDS

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

EDITABLE_FIELDS = (
    "name",
    "enabled",
    "pii_enabled",
    "pii_rules",
    "secrets_enabled",
    "secret_rules",
    "custom_patterns",
    "scan_system_prompts",
    "restore_responses",
    "timeout_ms",
    "on_timeout",
)
MIN_TIMEOUT_MS, MAX_TIMEOUT_MS = 50, 60_000


def policy_state(policy: RedactionPolicy) -> dict[str, Any]:
    """The audited fields (custom patterns are configuration, not secrets)."""
    state = {name: getattr(policy, name) for name in EDITABLE_FIELDS}
    state["scope"] = policy.scope
    state["subject"] = policy.subject_label
    return state


def _clean_rules(value: Any, allowed: tuple[str, ...], label: str) -> list[str]:
    if not isinstance(value, list | tuple):
        raise ValidationError(f"{label} must be a list of rule ids")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise ValidationError(
            f"unknown {label}: {', '.join(unknown)} (choose from {', '.join(allowed)})"
        )
    return [rid for rid in allowed if rid in value]


def redaction_subject(
    *,
    organization: Organization,
    scope: str,
    workspace: Workspace | None,
    api_key: ApiKey | None,
    user: AbstractBaseUser | None,
) -> dict[str, Any]:
    """The lookup of the one policy of this subject; checks the subject is in the organization."""
    if scope == RedactionPolicy.Scope.ORGANIZATION:
        return {"organization": organization, "scope": scope}
    if scope == RedactionPolicy.Scope.WORKSPACE:
        if workspace is None or workspace.organization_id != organization.pk:
            raise ValidationError("a workspace policy needs a workspace of this organization")
        return {"organization": organization, "scope": scope, "workspace": workspace}
    if scope == RedactionPolicy.Scope.API_KEY:
        if api_key is None or api_key.organization_id != organization.pk:
            raise ValidationError("an API key policy needs a key of this organization")
        return {"organization": organization, "scope": scope, "api_key": api_key}
    if scope == RedactionPolicy.Scope.USER:
        if (
            user is None
            or not OrganizationMember.objects.filter(organization=organization, user=user).exists()
        ):
            raise ValidationError("a user policy needs a member of this organization")
        return {"organization": organization, "scope": scope, "user": user}
    raise ValidationError(f"unknown scope {scope!r}")


def clean_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Validate the editable fields given (others are left as they are)."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(f"unknown fields: {', '.join(sorted(unknown))}")
    clean = dict(fields)
    if "pii_rules" in clean:
        clean["pii_rules"] = _clean_rules(clean["pii_rules"], PII_RULE_IDS, "PII rules")
    if "secret_rules" in clean:
        clean["secret_rules"] = _clean_rules(clean["secret_rules"], SECRET_RULE_IDS, "secret rules")
    if "custom_patterns" in clean:
        clean["custom_patterns"] = validate_custom_patterns(clean["custom_patterns"])
    if "timeout_ms" in clean:
        timeout = clean["timeout_ms"]
        if not isinstance(timeout, int) or not MIN_TIMEOUT_MS <= timeout <= MAX_TIMEOUT_MS:
            raise ValidationError(f"scan time limit must be {MIN_TIMEOUT_MS}-{MAX_TIMEOUT_MS} ms")
    if "on_timeout" in clean and clean["on_timeout"] not in RedactionPolicy.OnTimeout.values:
        raise ValidationError("on timeout must be block or allow")
    if "name" in clean and not str(clean["name"]).strip():
        raise ValidationError("a policy needs a name")
    return clean


def redaction_effect_check(policy: RedactionPolicy) -> None:
    """Refuse a policy that would look on but redact nothing: a category switched on with no
    rule selected (the rules are what detects), or an organization-wide policy with nothing to
    detect at all. A narrower policy with nothing switched on is allowed: it exempts its
    subject from the broader policies (the most specific policy wins)."""
    if policy.pii_enabled and not policy.pii_rules:
        raise ValidationError(
            "PII redaction is on but no PII rule is selected: select rules (by default every "
            "PII rule) or turn PII redaction off"
        )
    if policy.secrets_enabled and not policy.secret_rules:
        raise ValidationError(
            "secrets redaction is on but no secret rule is selected: select rules (by default "
            "every secret rule) or turn secrets redaction off"
        )
    nothing = not policy.pii_enabled and not policy.secrets_enabled and not policy.custom_patterns
    if policy.enabled and nothing and policy.scope == RedactionPolicy.Scope.ORGANIZATION:
        raise ValidationError(
            "this organization-wide policy would redact nothing: turn on PII or secrets "
            "redaction, add a custom pattern, or disable the policy"
        )


def redacts_nothing(policy: RedactionPolicy) -> bool:
    """An enabled policy that detects nothing: it exempts its subject from broader policies."""
    return policy.enabled and not (
        (policy.pii_enabled and policy.pii_rules)
        or (policy.secrets_enabled and policy.secret_rules)
        or policy.custom_patterns
    )


def _policy_with(
    lookup: dict[str, Any], clean: dict[str, Any], *, lock: bool
) -> tuple[RedactionPolicy, dict[str, Any] | None]:
    """The subject's policy (or a new one with the defaults) with `clean` applied, unsaved,
    and its audited state before."""
    rows = RedactionPolicy.objects.filter(**lookup)
    policy = (rows.select_for_update() if lock else rows).first()
    before = policy_state(policy) if policy else None
    if policy is None:
        policy = RedactionPolicy(**lookup)
        policy.name = f"redaction: {policy.subject_label}"
    for name, value in clean.items():
        setattr(policy, name, value)
    return policy, before


def redaction_policy_check(
    *,
    organization: Organization,
    scope: str,
    workspace: Workspace | None = None,
    api_key: ApiKey | None = None,
    user: AbstractBaseUser | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Validate a write as redaction_policy_set would, writing nothing; the cleaned fields
    (the admin form calls it to show errors inline)."""
    lookup = redaction_subject(
        organization=organization, scope=scope, workspace=workspace, api_key=api_key, user=user
    )
    clean = clean_fields(fields)
    policy, _ = _policy_with(lookup, clean, lock=False)
    redaction_effect_check(policy)
    return clean


@transaction.atomic
def redaction_policy_set(
    *,
    organization: Organization,
    scope: str,
    workspace: Workspace | None = None,
    api_key: ApiKey | None = None,
    user: AbstractBaseUser | None = None,
    actor: AbstractBaseUser | None = None,
    actor_label: str | None = None,
    **fields: Any,
) -> RedactionPolicy:
    """Create or update the one policy of a subject; audited, and every proxy reloads it.

    Fields not given keep their value (or the default on creation: PII and secrets on with every
    rule that can run, system prompts scanned, responses restored, 2 s limit, block on timeout).
    A policy that would look on but redact nothing is refused (redaction_effect_check)."""
    lookup = redaction_subject(
        organization=organization, scope=scope, workspace=workspace, api_key=api_key, user=user
    )
    clean = clean_fields(fields)
    policy, before = _policy_with(lookup, clean, lock=True)
    redaction_effect_check(policy)
    policy.updated_at = timezone.now()
    policy.save()
    audit_record(
        action="redaction_policy.update" if before else "redaction_policy.create",
        obj=policy,
        actor=actor,
        actor_label=actor_label,
        organization=organization,
        workspace=policy.workspace,
        before=before,
        after=policy_state(policy),
    )
    return policy


@transaction.atomic
def redaction_policy_delete(
    *,
    policy: RedactionPolicy,
    actor: AbstractBaseUser | None = None,
    actor_label: str | None = None,
) -> None:
    """Remove a policy (calls fall back to the next broader one); audited."""
    before = policy_state(policy)
    audit_record(
        action="redaction_policy.delete",
        obj=policy,
        actor=actor,
        actor_label=actor_label,
        organization=policy.organization,
        workspace=policy.workspace,
        before=before,
        after=None,
    )
    policy.delete()
