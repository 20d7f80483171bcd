"""Usage summaries: calls, tokens and spend over a time range, in hourly, daily or weekly
buckets, grouped by model, key, user, workspace or customer, optionally for one customer
(x-gateway-customer).

Two sources, same sums: `tracing.UsageRecord` (one narrow row per call) and `api.UsageDaily`
(the per-day totals of those rows, rebuilt by api.services.usage_rollup_refresh). Daily and
weekly summaries read UsageDaily for whole days that are rolled up and raw rows for the rest
(today, and a partial first or last day); hourly summaries read raw rows only, and are limited
to 7 days so that one answer never aggregates more than a week of raw rows. Summaries by
customer (grouped or filtered) read raw rows only (the per-day totals do not keep customers),
through the (workspace, customer, started_at) index. Either way the
aggregation is one GROUP BY per source in the database; only the buckets come back.

Buckets are calendar-aligned in UTC (weeks start on Monday 00:00 UTC, as the spend windows
do), so a summary and a spend policy window agree on what "this week" means.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDay, TruncHour, TruncWeek

from orgs.models import ApiKey, Workspace
from tracing.models import TOKEN_FIELDS, UsageDaily, UsageRecord, UsageRollupState

TRUNC = {"hour": TruncHour, "day": TruncDay, "week": TruncWeek}
# The longest range per bucket size (hourly reads raw rows only; see the module docstring).
MAX_RANGE = {
    "hour": dt.timedelta(days=7),
    "day": dt.timedelta(days=400),
    "week": dt.timedelta(days=3 * 366),
}
GROUP_FIELDS = {
    "model": "model",
    "key": "key_id",
    "user": "user_id",
    "workspace": "workspace_id",
    "customer": "customer",
    "none": None,
}
SUM_FIELDS = ("calls", "unpriced_calls", *TOKEN_FIELDS)


@dataclass(frozen=True)
class UsageQuery:
    since: dt.datetime
    until: dt.datetime
    bucket: str  # hour | day | week
    group_by: str  # model | key | user | none
    workspace_ids: set[int] | None  # None: every workspace (superuser)
    organization_id: int | None = None
    customer: str | None = None  # only the calls that named this customer


def usage_range_error(*, since: dt.datetime, until: dt.datetime, bucket: str) -> str | None:
    """A readable reason the range cannot be summarised, or None."""
    if until <= since:
        return "until must be after since"
    if until - since > MAX_RANGE[bucket]:
        return f"a {bucket}ly summary covers at most {MAX_RANGE[bucket].days} days; use a larger bucket"
    return None


def usage_summary(*, query: UsageQuery) -> dict[str, Any]:
    """Rows of {bucket, group, label, calls, tokens..., cost_usd, unpriced_calls}, oldest bucket
    first, plus the totals of the range. `cost_usd` sums priced calls only and `unpriced_calls`
    counts the others, so a total is never silently understated."""
    merged: dict[tuple[dt.datetime, Any], dict[str, Any]] = {}
    for source, since, until in _sources(query):
        for row in source(query, since, until):
            key = (row["bucket"], row["group"])
            if key not in merged:
                merged[key] = row
                continue
            into = merged[key]
            for name in SUM_FIELDS:
                into[name] += row[name]
            if row["cost_usd"] is not None:
                into["cost_usd"] = (into["cost_usd"] or 0) + row["cost_usd"]
    rows = sorted(merged.values(), key=_order)
    labels = _labels(query.group_by, {row["group"] for row in rows})
    for row in rows:
        group = row["group"]
        row["label"] = labels.get(group, "" if group is None else str(group))
        row["group"] = None if group is None else str(group)
    return {"rows": rows, "totals": _totals(rows)}


def _order(row: dict[str, Any]) -> tuple[Any, ...]:
    group = row["group"]
    return (row["bucket"], group is None, group if group is not None else "")


def _day_floor(value: dt.datetime) -> dt.datetime:
    value = value.astimezone(dt.UTC)
    return value.replace(hour=0, minute=0, second=0, microsecond=0)


def _sources(query: UsageQuery) -> list[tuple[Any, dt.datetime, dt.datetime]]:
    """Split [since, until) into raw and rolled-up parts (whole rolled-up days only)."""
    if query.customer is not None or query.group_by == "customer":
        return [(_raw_rows, query.since, query.until)]
    state = UsageRollupState.objects.first()
    if query.bucket == "hour" or state is None or state.rolled_through is None:
        return [(_raw_rows, query.since, query.until)]
    lo = _day_floor(query.since)
    if lo < query.since:
        lo += dt.timedelta(days=1)
    rolled = dt.datetime.combine(state.rolled_through, dt.time.min, tzinfo=dt.UTC)
    hi = min(_day_floor(query.until), rolled)
    if lo >= hi:
        return [(_raw_rows, query.since, query.until)]
    parts: list[tuple[Any, dt.datetime, dt.datetime]] = [(_daily_rows, lo, hi)]
    if query.since < lo:
        parts.append((_raw_rows, query.since, lo))
    if hi < query.until:
        parts.append((_raw_rows, hi, query.until))
    return parts


def _scoped(qs: QuerySet[Any], query: UsageQuery) -> QuerySet[Any]:
    if query.workspace_ids is not None:
        qs = qs.filter(workspace_id__in=query.workspace_ids)
    if query.organization_id is not None:
        qs = qs.filter(organization_id=query.organization_id)
    if query.customer is not None:
        qs = qs.filter(customer=query.customer)
    return qs.order_by()


def _grouped(
    qs: QuerySet[Any], query: UsageQuery, aggregates: dict[str, Any]
) -> list[dict[str, Any]]:
    group_field = GROUP_FIELDS[query.group_by]
    keys = ["bucket", group_field] if group_field else ["bucket"]
    return [
        {
            "bucket": row["bucket"],
            "group": row.get(group_field) if group_field else None,
            "cost_usd": row["cost_sum"],
            **{name: row[f"{name}_sum"] or 0 for name in SUM_FIELDS},
        }
        for row in qs.values(*keys).annotate(**aggregates)
    ]


def _raw_rows(query: UsageQuery, since: dt.datetime, until: dt.datetime) -> list[dict[str, Any]]:
    qs = _scoped(UsageRecord.objects.filter(started_at__gte=since, started_at__lt=until), query)
    qs = qs.annotate(bucket=TRUNC[query.bucket]("started_at", tzinfo=dt.UTC))
    # Aliases differ from the column names (an annotation may not shadow a field); COUNT(*) and
    # a count of started_at keep the query answerable from an index that covers these columns.
    return _grouped(
        qs,
        query,
        {
            "calls_sum": Count("*"),
            "unpriced_calls_sum": Count("started_at", filter=Q(cost_usd__isnull=True)),
            "cost_sum": Sum("cost_usd"),
            **{f"{name}_sum": Sum(name) for name in TOKEN_FIELDS},
        },
    )


def _daily_rows(query: UsageQuery, since: dt.datetime, until: dt.datetime) -> list[dict[str, Any]]:
    qs = _scoped(UsageDaily.objects.filter(day__gte=since.date(), day__lt=until.date()), query)
    qs = qs.annotate(bucket=TRUNC[query.bucket]("day"))
    rows = _grouped(
        qs,
        query,
        {"cost_sum": Sum("cost_usd"), **{f"{name}_sum": Sum(name) for name in SUM_FIELDS}},
    )
    for row in rows:  # a DateField truncates to a date; buckets are UTC datetimes
        row["bucket"] = dt.datetime.combine(row["bucket"], dt.time.min, tzinfo=dt.UTC)
    return rows


def _totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    totals: dict[str, Any] = dict.fromkeys(SUM_FIELDS, 0)
    totals["cost_usd"] = None
    for row in rows:
        for name in SUM_FIELDS:
            totals[name] += row[name]
        if row["cost_usd"] is not None:
            totals["cost_usd"] = (totals["cost_usd"] or 0) + row["cost_usd"]
    return totals


def _labels(group_by: str, ids: set[Any]) -> dict[Any, str]:
    """Readable names for key, user and workspace groups: one small query for the ids present."""
    ids = {i for i in ids if i is not None}
    if not ids or group_by not in ("key", "user", "workspace"):
        return {}
    if group_by == "workspace":
        rows = Workspace.objects.filter(pk__in=ids).select_related("organization")
        return {ws.pk: f"{ws.organization.slug}/{ws.slug}" for ws in rows}
    if group_by == "key":
        keys = ApiKey.objects.filter(pk__in=ids).only("pk", "kind", "lookup_id")
        return {k.pk: k.display_prefix for k in keys}
    return {u.pk: u.get_username() for u in get_user_model().objects.filter(pk__in=ids)}
