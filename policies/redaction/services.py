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
    pattern rule, system prompts scanned, responses restored, 2 s limit, block on timeout)."""
    lookup = redaction_subject(
        organization=organization, scope=scope, workspace=workspace, api_key=api_key, user=user
    )
    clean = clean_fields(fields)
    policy = RedactionPolicy.objects.select_for_update().filter(**lookup).first()
    before = policy_state(policy) if policy else None
    if policy is None:
        policy = RedactionPolicy(**lookup)
        policy.name = f"redaction: {policy.subject_label}"
    for name, value in clean.items():
        setattr(policy, name, value)
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
