"""Reads for spend limits: what a policy has spent, from the truth in PostgreSQL.

`usage_cost` sums tracing.UsageRecord rows of one (policy, member) over a time range, using the
(subject, started_at) indexes of that table. `counter_baseline_micros` is what a live counter
is rebuilt to: the aggregated SpendTotal of its window plus the usage recorded since that total
was computed, so a rebuild reads at most the last aggregation interval of raw usage (plus the
whole window only for a window no aggregation has seen yet: its first minute, or a new policy).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet, Sum

from policies.spend.snapshot import PolicyRule, usd_to_micros
from policies.spend.windows import window_end
from policies.subjects import customer_member

if TYPE_CHECKING:
    from policies.spend.models import SpendPolicy

_MEMBER_FIELD = {"ws": "workspace_id", "key": "key_id", "user": "user_id"}


def usage_filter(rule: PolicyRule, member: str) -> Q:
    """The UsageRecord rows that count against (rule, member)."""
    q = Q(organization_id=rule.organization_id)
    if member.startswith("cust:"):
        _, workspace_id, customer = member.split(":", 2)
        return q & Q(workspace_id=int(workspace_id), customer=customer)
    if member:
        kind, _, ident = member.partition(":")
        q &= Q(**{_MEMBER_FIELD[kind]: int(ident)})
        if rule.scope != "workspace" and rule.workspace_id is not None:
            q &= Q(workspace_id=rule.workspace_id)
    elif rule.scope == "workspace":
        q &= Q(workspace_id=rule.workspace_id)
    elif rule.scope == "api_key":
        q &= Q(key_id=rule.api_key_id)
    elif rule.scope == "user":
        q &= Q(user_id=rule.user_id)
    elif rule.scope == "customer":
        q &= Q(workspace_id=rule.workspace_id, customer=rule.customer)
    return q


def _cost_aggregates() -> dict[str, Any]:
    unpriced = Q(cost_usd__isnull=True)
    return {
        "cost": Sum("cost_usd"),
        # input_tokens counts every input token, cache reads and writes included.
        "unpriced_in": Sum("input_tokens", filter=unpriced),
        "unpriced_out": Sum("output_tokens", filter=unpriced),
    }


def _cost_of(row: dict[str, Any], rule: PolicyRule) -> Decimal:
    """Priced cost, plus unpriced tokens at the policy's fallback price when it charges one."""
    total = Decimal(row.get("cost") or 0)
    if rule.unpriced == "fallback":
        tokens_in = row.get("unpriced_in") or 0
        tokens_out = row.get("unpriced_out") or 0
        total += (
            Decimal(str(rule.fallback_input or 0)) * tokens_in
            + Decimal(str(rule.fallback_output or 0)) * tokens_out
        ) / 1_000_000
    return total


def usage_rows(since: dt.datetime, until: dt.datetime) -> QuerySet[Any]:
    from tracing.models import UsageRecord

    return UsageRecord.objects.filter(started_at__gte=since, started_at__lt=until)


def usage_cost(rule: PolicyRule, member: str, since: dt.datetime, until: dt.datetime) -> Decimal:
    """USD spent by (rule, member) on calls started in [since, until)."""
    row = (
        usage_rows(since, until).filter(usage_filter(rule, member)).aggregate(**_cost_aggregates())
    )
    return _cost_of(row, rule)


def usage_cost_by_customer(
    rule: PolicyRule, since: dt.datetime, until: dt.datetime
) -> dict[str, Decimal]:
    """For a default-per-customer policy: USD per member ("cust:<ws>:<customer>")."""
    q = Q(organization_id=rule.organization_id) & ~Q(customer="")
    if rule.workspace_id is not None:
        q &= Q(workspace_id=rule.workspace_id)
    rows = (
        usage_rows(since, until)
        .filter(q)
        .values("workspace_id", "customer")
        .annotate(**_cost_aggregates())
    )
    return {customer_member(r["workspace_id"], r["customer"]): _cost_of(r, rule) for r in rows}


def usage_cost_by_member(
    rule: PolicyRule, field: str, since: dt.datetime, until: dt.datetime
) -> dict[int, Decimal]:
    """For a default-per-member policy: USD per member id (`field` is workspace_id, key_id or
    user_id) in one GROUP BY."""
    q = Q(organization_id=rule.organization_id) & Q(**{f"{field}__isnull": False})
    if rule.scope != "workspace" and rule.workspace_id is not None:
        q &= Q(workspace_id=rule.workspace_id)
    rows = usage_rows(since, until).filter(q).values(field).annotate(**_cost_aggregates())
    return {row[field]: _cost_of(row, rule) for row in rows}


def counter_baseline_micros(
    rule: PolicyRule, member: str, window: str, start: dt.datetime, now: dt.datetime
) -> int:
    """What a counter missing from Redis (or a new DB counter) starts from: the truth."""
    from policies.spend.models import SpendTotal

    total = SpendTotal.objects.filter(
        policy_id=rule.id, member=member, window=window, window_start=start
    ).first()
    end = max(window_end(window, start), now)
    if total is None:
        return usd_to_micros(usage_cost(rule, member, start, end))
    since = max(total.computed_until, start)
    return usd_to_micros(total.spent_usd + usage_cost(rule, member, since, end))


def spend_policy_list_for_org(*, organization_id: int) -> QuerySet[SpendPolicy]:
    """The organization's spend policies with their windows (admin, API, CLI)."""
    from policies.spend.models import SpendPolicy

    return (
        SpendPolicy.objects.filter(organization_id=organization_id)
        .select_related("workspace", "api_key", "user")
        .prefetch_related("windows")
    )


def _live_micros(rule: PolicyRule, window: str, start: dt.datetime) -> int | None:
    """Spent + reserved of the live counter (Redis, or the DB counter without Redis)."""
    from django.conf import settings

    from policies.spend.models import SpendCounter
    from policies.spend.store_redis import Counter

    if settings.REDIS_URL:
        from hotpath.redis_client import REDIS_ERRORS, sync_client

        key = Counter(rule.organization_id, rule.id, "", window, start, 0, 0).key
        try:
            client = sync_client(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
            try:
                spent, reserved = client.hmget(key, "spent", "reserved")
            finally:
                client.close()
        except REDIS_ERRORS:
            return None
        return None if spent is None else int(spent) + int(reserved or 0)
    row = SpendCounter.objects.filter(
        policy_id=rule.id, member="", window=window, window_start=start
    ).first()
    return None if row is None else row.spent_micros + row.reserved_micros


def current_spend(policy: SpendPolicy) -> list[dict[str, Any]]:
    """Per window of `policy`: what the current window has spent, its limit, and a note on
    where the figure comes from (live counter, recorded usage, or the highest member)."""
    from django.utils import timezone

    from policies.spend.models import SpendTotal
    from policies.spend.snapshot import rule_from_policy
    from policies.spend.windows import window_start

    rule = rule_from_policy(policy)
    now = timezone.now()
    rows = []
    for w in rule.windows:
        start = window_start(w.window, now)
        if rule.per_member:
            totals = SpendTotal.objects.filter(
                policy_id=rule.id, window=w.window, window_start=start
            )
            top = totals.order_by("-spent_usd").first()
            spent = float(top.spent_usd) if top else 0.0
            note = (
                f" (highest of {totals.count()} members: {top.member})"
                if top
                else " (no member has spent yet)"
            )
        else:
            live = _live_micros(rule, w.window, start)
            spent = live / 1e6 if live is not None else float(usage_cost(rule, "", start, now))
            note = "" if live is not None else " (recorded usage)"
        rows.append(
            {
                "window": w.window,
                "spent_usd": spent,
                "limit_usd": f"{w.limit_micros / 1e6:.2f}",
                "note": note,
            }
        )
    return rows


def member_spend(policy: SpendPolicy, limit: int = 50) -> list[dict[str, Any]]:
    """Materialised members of a default-per-member policy with their current-window totals
    (from the last aggregation), the biggest spenders first."""
    from django.utils import timezone

    from policies.spend.models import SpendPolicyMember, SpendTotal
    from policies.spend.windows import window_start

    now = timezone.now()
    starts = {w.window: window_start(w.window, now) for w in policy.windows.all()}
    totals: dict[str, dict[str, float]] = {}
    for t in SpendTotal.objects.filter(policy=policy, window__in=starts.keys()):
        if t.window_start == starts[t.window]:
            totals.setdefault(t.member, {})[t.window] = float(t.spent_usd)
    members = SpendPolicyMember.objects.filter(policy=policy).values_list("member", flat=True)
    rows = [{"member": m, "windows": totals.get(m, {})} for m in members]
    rows.sort(key=lambda r: -max(r["windows"].values(), default=0.0))
    return rows[:limit]
