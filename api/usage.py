"""Usage summaries: calls, tokens and spend over a time range, in hourly, daily or weekly
buckets, grouped by model, key or user, from tracing.models.UsageRecord (one narrow row per call).

One GROUP BY query does the work in the database: the rows are filtered by workspace and time
(index usage_ws_start / usage_org_start) and aggregated there; only the buckets come back.
Buckets are calendar-aligned in UTC (weeks start on Monday 00:00 UTC, as the spend windows do),
so a summary and a spend policy window agree on what "this week" means.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDay, TruncHour, TruncWeek

from orgs.models import ApiKey
from tracing.models import UsageRecord

if TYPE_CHECKING:
    from collections.abc import Iterable

TRUNC = {"hour": TruncHour, "day": TruncDay, "week": TruncWeek}
# The longest range per bucket size: bounds the answer to a few thousand buckets per group.
MAX_RANGE = {
    "hour": dt.timedelta(days=31),
    "day": dt.timedelta(days=400),
    "week": dt.timedelta(days=3 * 366),
}
GROUP_FIELDS = {"model": "model", "key": "key_id", "user": "user_id", "none": None}
TOKEN_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)


@dataclass(frozen=True)
class UsageQuery:
    since: dt.datetime
    until: dt.datetime
    bucket: str  # hour | day | week
    group_by: str  # model | key | user | none
    workspace_ids: set[int] | None  # None: every workspace (superuser)
    organization_id: int | None = None


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
    qs = UsageRecord.objects.filter(started_at__gte=query.since, started_at__lt=query.until)
    if query.workspace_ids is not None:
        qs = qs.filter(workspace_id__in=query.workspace_ids)
    if query.organization_id is not None:
        qs = qs.filter(organization_id=query.organization_id)
    group_field = GROUP_FIELDS[query.group_by]
    keys = ["bucket", group_field] if group_field else ["bucket"]
    aggregates = {
        "calls": Count("id"),
        # Aliases must differ from the column names (an annotation may not shadow a field).
        **{f"{name}_sum": Sum(name) for name in TOKEN_FIELDS},
        "cost_sum": Sum("cost_usd"),
        "unpriced_calls": Count("id", filter=Q(cost_usd__isnull=True)),
    }
    rows = list(
        qs.order_by()
        .annotate(bucket=TRUNC[query.bucket]("started_at", tzinfo=dt.UTC))
        .values(*keys)
        .annotate(**aggregates)
        .order_by(*keys)
    )
    labels = _labels(query.group_by, {row[group_field] for row in rows} if group_field else set())
    result_rows = [_row(row, group_field, labels) for row in rows]
    return {"rows": result_rows, "totals": _totals(result_rows)}


def _row(row: dict[str, Any], group_field: str | None, labels: dict[Any, str]) -> dict[str, Any]:
    group = row.get(group_field) if group_field else None
    out = {
        "bucket": row["bucket"],
        "group": None if group is None else str(group),
        "label": labels.get(group, "" if group is None else str(group)),
        "calls": row["calls"],
        "cost_usd": row["cost_sum"],
        "unpriced_calls": row["unpriced_calls"],
    }
    out.update({name: row[f"{name}_sum"] or 0 for name in TOKEN_FIELDS})
    return out


def _totals(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    totals: dict[str, Any] = {"calls": 0, "cost_usd": None, "unpriced_calls": 0}
    totals.update(dict.fromkeys(TOKEN_FIELDS, 0))
    for row in rows:
        for name in ("calls", "unpriced_calls", *TOKEN_FIELDS):
            totals[name] += row[name]
        if row["cost_usd"] is not None:
            totals["cost_usd"] = (totals["cost_usd"] or 0) + row["cost_usd"]
    return totals


def _labels(group_by: str, ids: set[Any]) -> dict[Any, str]:
    """Readable names for key and user groups: one small query for the ids present."""
    ids.discard(None)
    if not ids or group_by not in ("key", "user"):
        return {}
    if group_by == "key":
        return {
            k.pk: k.display_prefix
            for k in ApiKey.objects.filter(pk__in=ids).only("pk", "kind", "lookup_id")
        }
    users = get_user_model().objects.filter(pk__in=ids)
    return {u.pk: u.get_username() for u in users}
