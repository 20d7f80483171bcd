"""Writes for rate limits: policies and their limits, validated and audit-logged.

The admin, the CLI and the REST API call these; none of them writes the models directly. Every
committed change reaches the proxies' snapshot through the change signal (policies/apps.py
connects the models to hotpath/changes.py), so it applies to the next call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from orgs.audit import audit_record
from policies.ratelimit.models import RateLimit, RateLimitPolicy, RateWindow
from policies.subjects import PolicyKind, policy_name_set, subject_validate

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from orgs.models import ApiKey, Organization, Workspace

# window → (max requests, max tokens); None = no limit of that metric in the window.
Limits = dict[str, tuple[int | None, int | None]]
MAX_LIMIT = 10**12


def rate_limit_state(policy: RateLimitPolicy) -> dict[str, Any]:
    """The audit-log view of a policy."""
    return {
        "name": policy.name,
        "enabled": policy.enabled,
        "scope": policy.scope,
        "kind": policy.kind,
        "workspace": str(policy.workspace) if policy.workspace_id else None,
        "api_key": policy.api_key.display_prefix if policy.api_key_id else None,
        "user": policy.user.get_username() if policy.user_id else None,
        "customer": policy.customer or None,
        "limits": {
            limit.window: {"requests": limit.max_requests, "tokens": limit.max_tokens}
            for limit in RateLimit.objects.filter(policy=policy)
        },
    }


def _audit(
    policy: RateLimitPolicy,
    action: str,
    before: dict[str, Any] | None,
    actor: AbstractBaseUser | None,
) -> None:
    audit_record(
        action=action,
        obj=policy,
        actor=actor,
        organization=policy.organization,
        workspace=policy.workspace,
        before=before,
        after=None if action.endswith(".delete") else rate_limit_state(policy),
    )


def parse_count(value: Any, what: str) -> int | None:
    """A limit: a whole number ≥ 1, or None (blank)."""
    if value is None or value == "":
        return None
    try:
        number = int(str(value).strip())
    except ValueError as exc:
        raise ValidationError(f"{what} must be a whole number, not {value!r}") from exc
    if number < 1 or number > MAX_LIMIT:
        raise ValidationError(f"{what} must be between 1 and {MAX_LIMIT}, not {value!r}")
    return number


def limits_check(limits: dict[str, Any]) -> Limits:
    """Validated limits: known windows, each with requests and/or tokens."""
    unknown = sorted(set(limits) - set(RateWindow.values))
    if unknown or not limits:
        raise ValidationError(
            f"windows must be among {', '.join(RateWindow.values)}, not {unknown or 'none'}"
        )
    out: Limits = {}
    for window, (requests, tokens) in limits.items():
        parsed = (parse_count(requests, "requests"), parse_count(tokens, "tokens"))
        if parsed == (None, None):
            raise ValidationError(f"the {window} limit needs requests and/or tokens")
        out[window] = parsed
    return out


def _apply(
    policy: RateLimitPolicy,
    *,
    organization: Organization,
    name: str,
    scope: str,
    kind: str,
    workspace: Workspace | None,
    api_key: ApiKey | None,
    user: AbstractBaseUser | None,
    customer: str,
    enabled: bool,
) -> None:
    """Set and validate the policy's fields (not saved)."""
    policy_name_set(policy, organization=organization, name=name, what="rate limit")
    if scope not in RateLimitPolicy.Scope.values:
        raise ValidationError(
            f"unknown scope {scope!r} (one of {', '.join(RateLimitPolicy.Scope.values)})"
        )
    if kind not in PolicyKind.values:
        raise ValidationError(f"unknown kind {kind!r} (one of {', '.join(PolicyKind.values)})")
    policy.scope, policy.kind, policy.enabled = scope, kind, enabled
    policy.workspace, policy.api_key, policy.user = workspace, api_key, user  # type: ignore[assignment]
    policy.customer = customer or ""
    policy.updated_at = timezone.now()
    subject_validate(policy, "rate limit")
    policy.full_clean(exclude=["organization", "user", "api_key", "workspace"])


def _save(
    policy: RateLimitPolicy,
    limits: Limits,
    *,
    before: dict[str, Any] | None,
    actor: AbstractBaseUser | None,
    replace: bool,
) -> None:
    policy.save()
    if replace:
        RateLimit.objects.filter(policy=policy).exclude(window__in=list(limits)).delete()
    for window, (requests, tokens) in limits.items():
        RateLimit.objects.update_or_create(
            policy=policy,
            window=window,
            defaults={"max_requests": requests, "max_tokens": tokens},
        )
    _audit(policy, "rate_limit.create" if before is None else "rate_limit.update", before, actor)


def rate_limit_check(
    *, policy: RateLimitPolicy | None, organization: Organization, **fields: Any
) -> None:
    """Validate a definition as rate_limit_save would, writing nothing (admin forms)."""
    candidate = RateLimitPolicy(pk=policy.pk if policy is not None else None)
    if policy is not None:
        candidate.organization_id = policy.organization_id
        candidate._state.adding = False
    _apply(candidate, organization=organization, **fields)


@transaction.atomic
def rate_limit_upsert(
    *,
    organization: Organization,
    name: str,
    scope: str,
    kind: str = PolicyKind.TOTAL,
    workspace: Workspace | None = None,
    api_key: ApiKey | None = None,
    user: AbstractBaseUser | None = None,
    customer: str = "",
    limits: dict[str, Any],
    enabled: bool = True,
    actor: AbstractBaseUser | None = None,
) -> RateLimitPolicy:
    """Create the policy `name` of `organization`, or update it, and set the given windows'
    limits (other windows of an existing policy are kept). Audit-logged."""
    checked = limits_check(limits)
    policy = (
        RateLimitPolicy.objects.select_for_update()
        .filter(organization=organization, name=name.strip())
        .first()
    )
    return _write(
        policy,
        checked,
        actor=actor,
        replace=False,
        organization=organization,
        name=name,
        scope=scope,
        kind=kind,
        workspace=workspace,
        api_key=api_key,
        user=user,
        customer=customer,
        enabled=enabled,
    )


@transaction.atomic
def rate_limit_save(
    *,
    policy: RateLimitPolicy | None,
    organization: Organization,
    name: str,
    scope: str,
    kind: str,
    workspace: Workspace | None,
    api_key: ApiKey | None,
    user: AbstractBaseUser | None,
    customer: str,
    limits: dict[str, Any],
    enabled: bool,
    actor: AbstractBaseUser | None = None,
) -> RateLimitPolicy:
    """Create a policy (`policy` None) or replace its whole definition, exactly `limits`
    included (a window not listed is removed). Validated, audit-logged with before/after."""
    checked = limits_check(limits)
    if policy is not None:
        policy = RateLimitPolicy.objects.select_for_update().get(pk=policy.pk)
    return _write(
        policy,
        checked,
        actor=actor,
        replace=True,
        organization=organization,
        name=name,
        scope=scope,
        kind=kind,
        workspace=workspace,
        api_key=api_key,
        user=user,
        customer=customer,
        enabled=enabled,
    )


def _write(
    policy: RateLimitPolicy | None,
    limits: Limits,
    *,
    actor: AbstractBaseUser | None,
    replace: bool,
    organization: Organization,
    **fields: Any,
) -> RateLimitPolicy:
    """The write of both services above, on a locked row (or a new policy)."""
    before = None if policy is None else rate_limit_state(policy)
    policy = policy or RateLimitPolicy(organization=organization)
    _apply(policy, organization=organization, **fields)
    _save(policy, limits, before=before, actor=actor, replace=replace)
    return policy


@transaction.atomic
def rate_limit_delete(*, policy: RateLimitPolicy, actor: AbstractBaseUser | None = None) -> None:
    before = rate_limit_state(policy)
    _audit(policy, "rate_limit.delete", before, actor)
    policy.delete()
