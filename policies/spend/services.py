"""Writes for spend limits: policies and windows (audit-logged), and the aggregation of usage
into per-policy-window totals (the truth live counters are rebuilt from).

The admin, the CLI and the REST API call these; none of them writes the models directly.
Every committed change invalidates the proxies' policy snapshot (policies/apps.py connects
the models to hotpath/changes.py), so it applies to the next call.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from orgs.models import ApiKey, Organization, Workspace
from orgs.services import audit_record
from policies.spend.models import (
    SpendAlertChannel,
    SpendPolicy,
    SpendTotal,
    SpendWindow,
    Window,
)
from policies.spend.selectors import usage_cost, usage_cost_by_customer, usage_cost_by_member
from policies.spend.snapshot import SCOPE_PREFIX, rule_from_policy
from policies.spend.windows import window_start
from policies.subjects import policy_name_set, subject_validate

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

Scope = SpendPolicy.Scope
Kind = SpendPolicy.Kind


def spend_policy_validate(policy: SpendPolicy) -> None:
    """The subject fields must fit the scope and kind (policies.subjects.subject_validate), and
    a policy that charges a fallback price needs both prices."""
    subject_validate(policy, "spend limit")
    if policy.unpriced_models == SpendPolicy.Unpriced.FALLBACK and (
        policy.fallback_input_per_mtok is None or policy.fallback_output_per_mtok is None
    ):
        raise ValidationError("charging a fallback price needs both fallback prices")


def spend_policy_state(policy: SpendPolicy) -> dict[str, Any]:
    """The audit-log view of a policy (no secrets in it)."""
    return {
        "name": policy.name,
        "enabled": policy.enabled,
        "scope": policy.scope,
        "kind": policy.kind,
        "workspace": str(policy.workspace) if policy.workspace_id else None,
        "api_key": policy.api_key.display_prefix if policy.api_key_id else None,
        "user": policy.user.get_username() if policy.user_id else None,
        "customer": policy.customer or None,
        "unpriced_models": policy.unpriced_models,
        "fallback_input_per_mtok": _str(policy.fallback_input_per_mtok),
        "fallback_output_per_mtok": _str(policy.fallback_output_per_mtok),
        "windows": {w.window: str(w.limit_usd) for w in SpendWindow.objects.filter(policy=policy)},
        "alert_thresholds": list(policy.alert_thresholds or []),
        "alert_channels": [
            f"{c.kind}: {c.target}" for c in SpendAlertChannel.objects.filter(policy=policy)
        ],
    }


def _str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def spend_policy_audit(
    *,
    policy: SpendPolicy,
    action: str,
    before: dict[str, Any] | None,
    actor: AbstractBaseUser | None,
) -> None:
    """Record one change of a policy (called by the writes below, inside their transaction)."""
    audit_record(
        action=action,
        obj=policy,
        actor=actor,
        organization=policy.organization,
        workspace=policy.workspace,
        before=before,
        after=None if action.endswith(".delete") else spend_policy_state(policy),
    )


def parse_limit(value: str | Decimal | float) -> Decimal:
    try:
        limit = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValidationError(f"not an amount in USD: {value!r}") from exc
    if not limit.is_finite() or limit < 0:
        raise ValidationError(f"a limit must be a non-negative amount in USD, not {value!r}")
    if limit >= 10**8:
        raise ValidationError(f"a limit must be below $100,000,000, not {value!r}")
    return limit.quantize(Decimal("0.000001"))


def _windows_check(windows: dict[str, Any]) -> dict[str, Decimal]:
    unknown = sorted(set(windows) - set(Window.values))
    if unknown or not windows:
        raise ValidationError(
            f"windows must be among {', '.join(Window.values)}, not {unknown or 'none'}"
        )
    return {window: parse_limit(limit) for window, limit in windows.items()}


def _apply(
    policy: SpendPolicy,
    *,
    scope: str,
    kind: str,
    workspace: Workspace | None,
    api_key: ApiKey | None,
    user: AbstractBaseUser | None,
    enabled: bool,
    unpriced_models: str | None,
    customer: str = "",
    fallback_input_per_mtok: Decimal | None,
    fallback_output_per_mtok: Decimal | None,
) -> None:
    """Set and validate the policy's fields (not saved)."""
    if scope not in Scope.values:
        raise ValidationError(f"unknown scope {scope!r} (one of {', '.join(Scope.values)})")
    if kind not in Kind.values:
        raise ValidationError(f"unknown kind {kind!r} (one of {', '.join(Kind.values)})")
    policy.scope, policy.kind, policy.enabled = scope, kind, enabled
    policy.workspace, policy.api_key, policy.user = workspace, api_key, user  # type: ignore[assignment]
    policy.customer = customer or ""
    if unpriced_models is not None:
        if unpriced_models not in SpendPolicy.Unpriced.values:
            raise ValidationError(
                f"unpriced models must be refuse or fallback, not {unpriced_models!r}"
            )
        policy.unpriced_models = unpriced_models
    if fallback_input_per_mtok is not None:
        policy.fallback_input_per_mtok = parse_limit(fallback_input_per_mtok)
    if fallback_output_per_mtok is not None:
        policy.fallback_output_per_mtok = parse_limit(fallback_output_per_mtok)
    policy.updated_at = timezone.now()
    spend_policy_validate(policy)
    policy.full_clean(exclude=["organization", "user", "api_key", "workspace"])


def _save(
    policy: SpendPolicy,
    limits: dict[str, Decimal],
    *,
    before: dict[str, Any] | None,
    actor: AbstractBaseUser | None,
    replace_windows: bool,
) -> None:
    """Store a validated policy with its windows (all of them, or only those given) and audit."""
    policy.save()
    if replace_windows:
        SpendWindow.objects.filter(policy=policy).exclude(window__in=list(limits)).delete()
    for window, limit in limits.items():
        SpendWindow.objects.update_or_create(
            policy=policy, window=window, defaults={"limit_usd": limit}
        )
    spend_policy_audit(
        policy=policy,
        action="spend_policy.create" if before is None else "spend_policy.update",
        before=before,
        actor=actor,
    )


@transaction.atomic
def spend_policy_upsert(
    *,
    organization: Organization,
    name: str,
    scope: str,
    kind: str = Kind.TOTAL,
    workspace: Workspace | None = None,
    api_key: ApiKey | None = None,
    user: AbstractBaseUser | None = None,
    customer: str = "",
    windows: dict[str, Decimal],
    enabled: bool = True,
    unpriced_models: str | None = None,
    fallback_input_per_mtok: Decimal | None = None,
    fallback_output_per_mtok: Decimal | None = None,
    actor: AbstractBaseUser | None = None,
) -> SpendPolicy:
    """Create the policy `name` of `organization`, or update it, and set the given windows
    (other windows of an existing policy are kept). `unpriced_models` None keeps the current
    setting (refuse for a new policy); fallback prices are set only when given. Audit-logged."""
    limits = _windows_check(windows)
    policy = (
        SpendPolicy.objects.select_for_update().filter(organization=organization, name=name).first()
    )
    before = None if policy is None else spend_policy_state(policy)
    if policy is None:
        policy = SpendPolicy(organization=organization, name=name)
    _apply(
        policy,
        scope=scope,
        kind=kind,
        workspace=workspace,
        api_key=api_key,
        user=user,
        customer=customer,
        enabled=enabled,
        unpriced_models=unpriced_models,
        fallback_input_per_mtok=fallback_input_per_mtok,
        fallback_output_per_mtok=fallback_output_per_mtok,
    )
    _save(policy, limits, before=before, actor=actor, replace_windows=False)
    return policy


def _definition(
    policy: SpendPolicy, *, organization: Organization, name: str, **fields: Any
) -> None:
    """Put a whole definition on `policy` (not saved), validated."""
    policy_name_set(policy, organization=organization, name=name, what="spend limit")
    policy.fallback_input_per_mtok = policy.fallback_output_per_mtok = None
    _apply(policy, **fields)


def spend_policy_check(
    *, policy: SpendPolicy | None, organization: Organization, name: str, **fields: Any
) -> None:
    """Validate a definition as spend_policy_save would, writing nothing (the admin form
    calls it to show errors inline)."""
    candidate = SpendPolicy(pk=policy.pk if policy is not None else None)
    if policy is not None:
        candidate.organization_id = policy.organization_id
        candidate._state.adding = False  # the stored row itself is no clash
    _definition(candidate, organization=organization, name=name, **fields)


@transaction.atomic
def spend_policy_save(
    *,
    policy: SpendPolicy | None,
    organization: Organization,
    name: str,
    scope: str,
    kind: str,
    workspace: Workspace | None,
    api_key: ApiKey | None,
    user: AbstractBaseUser | None,
    windows: dict[str, Decimal],
    enabled: bool,
    unpriced_models: str,
    customer: str = "",
    fallback_input_per_mtok: Decimal | None,
    fallback_output_per_mtok: Decimal | None,
    actor: AbstractBaseUser | None = None,
) -> SpendPolicy:
    """Create a policy (`policy` None) or replace the whole definition of `policy`, as the
    admin's form edits it: every field, the name included, and exactly `windows` (a window
    not listed is removed). Validated like every write, audit-logged with before/after."""
    limits = _windows_check(windows)
    if policy is not None:
        policy = SpendPolicy.objects.select_for_update().get(pk=policy.pk)
    before = None if policy is None else spend_policy_state(policy)
    policy = policy or SpendPolicy(organization=organization)
    _definition(
        policy,
        organization=organization,
        name=name,
        scope=scope,
        kind=kind,
        workspace=workspace,
        api_key=api_key,
        user=user,
        customer=customer,
        enabled=enabled,
        unpriced_models=unpriced_models,
        fallback_input_per_mtok=fallback_input_per_mtok,
        fallback_output_per_mtok=fallback_output_per_mtok,
    )
    _save(policy, limits, before=before, actor=actor, replace_windows=True)
    return policy


@transaction.atomic
def spend_policy_delete(*, policy: SpendPolicy, actor: AbstractBaseUser | None = None) -> None:
    before = spend_policy_state(policy)
    spend_policy_audit(policy=policy, action="spend_policy.delete", before=before, actor=actor)
    policy.delete()


def spend_totals_aggregate(*, now: dt.datetime | None = None) -> int:
    """Recompute the current window's SpendTotal of every enabled policy (and of each member of
    default-per-member policies) from UsageRecord rows. Idempotent: totals are recomputed over
    [window start, now), not incremented, so reruns and late rows cannot double count.
    Returns the number of totals written."""
    now = now or timezone.now()
    rows: list[SpendTotal] = []
    field_of = {"ws": "workspace_id", "key": "key_id", "user": "user_id"}
    for policy in SpendPolicy.objects.filter(enabled=True).prefetch_related("windows"):
        rule = rule_from_policy(policy)
        for w in rule.windows:
            start = window_start(w.window, now)
            if rule.per_member and rule.scope == "customer":
                spent = usage_cost_by_customer(rule, start, now)
            elif rule.per_member:
                prefix = SCOPE_PREFIX[rule.scope]
                per = usage_cost_by_member(rule, field_of[prefix], start, now)
                spent = {f"{prefix}:{ident}": cost for ident, cost in per.items()}
            else:
                spent = {"": usage_cost(rule, "", start, now)}
            rows += [
                SpendTotal(
                    policy_id=rule.id,
                    member=member,
                    window=w.window,
                    window_start=start,
                    spent_usd=cost,
                    computed_until=now,
                )
                for member, cost in spent.items()
            ]
    SpendTotal.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["policy", "member", "window", "window_start"],
        update_fields=["spent_usd", "computed_until"],
        batch_size=500,
    )
    return len(rows)


# --- Budget alerts (policies/spend/alerts.py) -----------------------------------------------------


def parse_thresholds(value: str | Iterable[Any]) -> list[int]:
    """ "50,80,100" or [50, 80, 100] → [50, 80, 100]: whole percentages from 1 to 1000 (over 100
    alerts on an overrun of a cap that lets calls through, e.g. a fallback price), sorted."""
    items = value.split(",") if isinstance(value, str) else list(value)
    out = set()
    for item in items:
        text = str(item).strip().rstrip("%")
        if not text:
            continue
        try:
            number = int(text)
        except ValueError as exc:
            raise ValidationError(
                f"an alert threshold is a whole percentage, not {item!r}"
            ) from exc
        if not 1 <= number <= 1000:
            raise ValidationError(f"an alert threshold is between 1 and 1000 %, not {number}")
        out.add(number)
    return sorted(out)


def _mask(url: str) -> str:
    """What interfaces show of a Slack webhook URL (the URL itself is the credential)."""
    parsed = urlparse(url)
    return f"{parsed.scheme}://{parsed.hostname}/…{url[-4:]}"


def alert_target_check(*, kind: str, target: str, actor: AbstractBaseUser | None) -> str:
    """A channel's target, validated: an e-mail address, or an http(s) URL that passes the
    outbound-host guard of provider base URLs (only the operator may name any host)."""
    from secrets_vault.services import base_url_check

    target = (target or "").strip()
    if kind == SpendAlertChannel.Kind.EMAIL:
        validate_email(target)
        return target
    if kind not in SpendAlertChannel.Kind.values:
        raise ValidationError(
            f"unknown alert channel {kind!r} (one of {', '.join(SpendAlertChannel.Kind.values)})"
        )
    try:
        return base_url_check(base_url=target, actor=actor)
    except ValidationError as exc:
        raise ValidationError(f"alert {kind} URL: {'; '.join(exc.messages)}") from exc
    except PermissionDenied as exc:
        raise ValidationError(f"alert {kind} URL: {exc}") from exc


@transaction.atomic
def alert_channel_add(
    *, policy: SpendPolicy, kind: str, target: str, actor: AbstractBaseUser | None = None
) -> tuple[SpendAlertChannel, str | None]:
    """Add a channel to `policy` (or find the same one). Returns it with the webhook signing
    secret when one was made now: shown once, stored encrypted. Audit-logged."""
    from secrets_vault import crypto

    target = alert_target_check(kind=kind, target=target, actor=actor)
    shown = _mask(target) if kind == SpendAlertChannel.Kind.SLACK else target
    existing = SpendAlertChannel.objects.filter(policy=policy, kind=kind, target=shown).first()
    if existing is not None:
        return existing, None
    before = spend_policy_state(policy)
    secret = None
    ciphertext = ""
    if kind == SpendAlertChannel.Kind.WEBHOOK:
        secret = "whsec_" + secrets.token_urlsafe(32)
        ciphertext = crypto.encrypt(secret)
    elif kind == SpendAlertChannel.Kind.SLACK:
        ciphertext = crypto.encrypt(target)
    channel = SpendAlertChannel.objects.create(
        policy=policy, kind=kind, target=shown, secret_ciphertext=ciphertext
    )
    spend_policy_audit(policy=policy, action="spend_policy.update", before=before, actor=actor)
    return channel, secret


@transaction.atomic
def alert_channel_delete(
    *, channel: SpendAlertChannel, actor: AbstractBaseUser | None = None
) -> None:
    policy = channel.policy
    before = spend_policy_state(policy)
    channel.delete()
    spend_policy_audit(policy=policy, action="spend_policy.update", before=before, actor=actor)


@transaction.atomic
def alert_thresholds_set(
    *, policy: SpendPolicy, thresholds: str | Iterable[Any], actor: AbstractBaseUser | None = None
) -> SpendPolicy:
    """Set the policy's alert thresholds (percent of each window's limit; empty: no alerts)."""
    values = parse_thresholds(thresholds)
    policy = SpendPolicy.objects.select_for_update().get(pk=policy.pk)
    before = spend_policy_state(policy)
    policy.alert_thresholds = values
    policy.updated_at = timezone.now()
    policy.save(update_fields=["alert_thresholds", "updated_at"])
    spend_policy_audit(policy=policy, action="spend_policy.update", before=before, actor=actor)
    return policy


def alert_channel_url(channel: SpendAlertChannel) -> str:
    """Where a Slack channel posts (the stored, encrypted URL); the target for the others."""
    from secrets_vault import crypto

    if channel.kind == SpendAlertChannel.Kind.SLACK:
        return crypto.decrypt(channel.secret_ciphertext)
    return channel.target


def alert_secrets_rotate() -> int:
    """Re-encrypt the webhook secrets and Slack URLs under the newest key."""
    from secrets_vault import crypto

    count = 0
    for pk in SpendAlertChannel.objects.exclude(secret_ciphertext="").values_list("pk", flat=True):
        with transaction.atomic():
            row = SpendAlertChannel.objects.select_for_update().filter(pk=pk).first()
            if row is None:
                continue
            row.secret_ciphertext = crypto.rotate(row.secret_ciphertext)
            row.save(update_fields=["secret_ciphertext"])
            count += 1
    return count
