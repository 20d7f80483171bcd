"""Rollups: the per-day usage totals (UsageDaily, rebuilt from UsageRecord every few minutes) and
the per-hour run totals (RunHourly, kept exact by ingestion and retention). Both models and why
they exist: tracing.models."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.db.models import Count, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncDate, TruncHour
from django.utils import timezone

from tracing.ingest_rows import RUN_COLUMNS
from tracing.models import TOKEN_FIELDS, Run, RunHourly, UsageDaily, UsageRecord, UsageRollupState

if TYPE_CHECKING:
    from django.db.models import QuerySet

logger = logging.getLogger(__name__)

GROUP_COLUMNS = ("organization_id", "workspace_id", "key_id", "user_id", "model")
BATCH = 2000


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


@transaction.atomic
def usage_rollup_refresh(*, recheck_days: int = 2, now: dt.datetime | None = None) -> int:
    """Rebuild UsageDaily for the closed days not yet rolled up, plus the last `recheck_days`
    closed days again (usage of a call can arrive late: the recorder's spool replays after a
    broker outage). Today (UTC) is never rolled up: summaries read its raw rows.

    Guarantees: after it returns, every day before today is in UsageDaily with exactly the sums
    of its UsageRecord rows as they were at that moment; running it twice is harmless. The
    first run backfills everything. Usage older than `recheck_days` that arrives later still
    needs a run with a larger `recheck_days`. Returns the number of daily rows written.
    """
    today = (now or timezone.now()).astimezone(dt.UTC).date()
    state = UsageRollupState.objects.select_for_update().first() or UsageRollupState()
    if state.rolled_through is None:
        first = (
            UsageRecord.objects.order_by("started_at").values_list("started_at", flat=True).first()
        )
        start = first.astimezone(dt.UTC).date() if first else today
    else:
        start = min(state.rolled_through, today) - dt.timedelta(days=recheck_days)
    UsageDaily.objects.filter(day__gte=start, day__lt=today).delete()
    sums = (
        UsageRecord.objects.filter(
            started_at__gte=_day_start(start), started_at__lt=_day_start(today)
        )
        .order_by()
        .annotate(day=TruncDate("started_at", tzinfo=dt.UTC))
        .values("day", *GROUP_COLUMNS)
        .annotate(
            n=Count("*"),
            cost=Sum("cost_usd"),
            unpriced=Count("started_at", filter=Q(cost_usd__isnull=True)),
            **{f"{name}_sum": Sum(name) for name in TOKEN_FIELDS},
        )
    )
    written = 0
    batch: list[UsageDaily] = []
    for row in sums.iterator(chunk_size=BATCH):
        batch.append(
            UsageDaily(
                day=row["day"],
                calls=row["n"],
                cost_usd=row["cost"],
                unpriced_calls=row["unpriced"],
                **{name: row[name] for name in GROUP_COLUMNS},
                **{name: row[f"{name}_sum"] or 0 for name in TOKEN_FIELDS},
            )
        )
        if len(batch) >= BATCH:
            written += len(UsageDaily.objects.bulk_create(batch))
            batch = []
    written += len(UsageDaily.objects.bulk_create(batch))
    state.rolled_through = today
    state.refreshed_at = timezone.now()
    state.save()
    logger.info("usage rollup: %d daily rows for %s..%s", written, start, today)
    return written


# --- Hourly run totals (RunHourly) ------------------------------------------------------------
# Kept exact by the writers of runs themselves (tracing.models, RunHourly): ingestion calls
# run_hourly_add with the rows it stored, retention run_hourly_subtract / run_hourly_drop with
# what it removed, each inside the transaction that changes the runs.

HOURLY_DIMS = (
    "workspace_id",
    "project_id",
    "key_id",
    "user_id",
    "model",
    "status",
    "policy_outcome",
)
_SUMS = ("calls", "input_tokens", "output_tokens", "cost_usd", "unpriced")
_RUN_AT = {name: i for i, name in enumerate(RUN_COLUMNS)}
_KEY_AT = tuple(_RUN_AT[name] for name in HOURLY_DIMS)
_STARTED, _INPUT, _OUTPUT, _COST = (
    _RUN_AT[name] for name in ("started_at", "input_tokens", "output_tokens", "cost_usd")
)
_ZERO = Decimal(0)

HourKey = tuple[Any, ...]  # (hour, *HOURLY_DIMS)


def _hourly_deltas(runs: Iterable[tuple[Any, ...]]) -> dict[HourKey, list[Any]]:
    """Run rows (RUN_COLUMNS order) summed per hour and dimensions: [calls, input tokens,
    output tokens, cost of the priced calls, unpriced calls]."""
    deltas: dict[HourKey, list[Any]] = {}
    for row in runs:
        started = row[_STARTED]
        key = (
            started.replace(minute=0, second=0, microsecond=0),
            *(row[i] for i in _KEY_AT),
        )
        cost = row[_COST]
        sums = deltas.get(key)
        if sums is None:
            sums = deltas[key] = [0, 0, 0, _ZERO, 0]
        sums[0] += 1
        sums[1] += row[_INPUT]
        sums[2] += row[_OUTPUT]
        if cost is None:
            sums[4] += 1
        else:
            sums[3] += cost
    return deltas


def _hourly_apply(deltas: dict[HourKey, list[Any]], *, sign: int) -> None:
    """Add (sign 1) or subtract (sign -1) `deltas` in one upsert (the same SQL on SQLite and
    PostgreSQL). Rows are written in key order, so two ingests touching the same hours lock
    them in the same order and cannot deadlock; a total left at zero calls is deleted."""
    if not deltas:
        return
    table = RunHourly._meta.db_table
    ops = connection.ops
    columns = ("hour", *HOURLY_DIMS, *_SUMS)
    dims = ", ".join(("hour", *HOURLY_DIMS))
    updates = ", ".join(f"{name} = {table}.{name} + excluded.{name}" for name in _SUMS)
    rows = [
        (
            ops.adapt_datetimefield_value(hour),
            workspace_id,
            project_id,
            key_id or 0,
            user_id or 0,
            model,
            status,
            outcome,
            sign * calls,
            sign * tokens_in,
            sign * tokens_out,
            ops.adapt_decimalfield_value(sign * cost, 30, 10),
            sign * unpriced,
        )
        for (hour, workspace_id, project_id, key_id, user_id, model, status, outcome), (
            calls,
            tokens_in,
            tokens_out,
            cost,
            unpriced,
        ) in sorted(deltas.items(), key=lambda item: (item[0][0], *map(str, item[0][1:])))
    ]
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
            f"({', '.join(['%s'] * len(columns))}) ON CONFLICT ({dims}) DO UPDATE SET {updates}",
            rows,
        )
        if sign < 0:
            cursor.execute(f"DELETE FROM {table} WHERE calls <= 0")


def run_hourly_add(runs: list[tuple[Any, ...]]) -> None:
    """Count newly stored runs (RUN_COLUMNS rows) in their hourly totals; call inside the
    transaction that inserted them."""
    _hourly_apply(_hourly_deltas(runs), sign=1)


def _grouped(queryset: QuerySet[Any]) -> QuerySet[Any]:
    """Runs summed per hour and HOURLY_DIMS (key and user 0 for none), as RunHourly stores
    them."""
    return (
        queryset.order_by()
        .annotate(
            hour=TruncHour("started_at", tzinfo=dt.UTC),
            k=Coalesce("key_id", Value(0)),
            u=Coalesce("user_id", Value(0)),
            w=Coalesce("workspace_id", Value(0)),
        )
        .values("hour", "w", "project_id", "k", "u", "model", "status", "policy_outcome")
        .annotate(
            n=Count("*"),
            tokens_in=Sum("input_tokens"),
            tokens_out=Sum("output_tokens"),
            cost=Sum("cost_usd"),
            unpriced_n=Count("started_at", filter=Q(cost_usd__isnull=True)),
        )
    )


def _deltas_of(grouped: Iterable[dict[str, Any]]) -> dict[HourKey, list[Any]]:
    return {
        (
            row["hour"],
            row["w"],
            row["project_id"],
            row["k"],
            row["u"],
            row["model"],
            row["status"],
            row["policy_outcome"],
        ): [
            row["n"],
            row["tokens_in"] or 0,
            row["tokens_out"] or 0,
            row["cost"] or _ZERO,
            row["unpriced_n"],
        ]
        for row in grouped
    }


def run_hourly_subtract(runs: QuerySet[Any]) -> None:
    """Uncount the runs of `runs` before they are deleted, in the same transaction."""
    _hourly_apply(_deltas_of(_grouped(runs)), sign=-1)


def run_hourly_subtract_rows(rows: Iterable[tuple[Any, ...]]) -> None:
    """Uncount deleted runs returned as (hour, *HOURLY_DIMS, calls, input tokens, output
    tokens, cost, unpriced) rows."""
    _hourly_apply(
        {
            tuple(row[:8]): [row[8], row[9] or 0, row[10] or 0, row[11] or _ZERO, row[12]]
            for row in rows
        },
        sign=-1,
    )


def run_hourly_drop(start: dt.datetime, end: dt.datetime) -> int:
    """Forget the totals of [start, end) when every run of that range is dropped at once (a
    day partition); returns the calls they counted."""
    hours = RunHourly.objects.filter(hour__gte=start, hour__lt=end)
    calls = hours.aggregate(n=Sum("calls"))["n"] or 0
    hours.delete()
    return int(calls)


def usage_daily_calls(start: dt.datetime, end: dt.datetime) -> int:
    """Calls the daily usage totals count in [start, end) (whole UTC days), as of the last
    rollup: what retention reports for a month of usage rows it drops without reading them."""
    days = UsageDaily.objects.filter(day__gte=start.date(), day__lt=end.date())
    return int(days.aggregate(n=Sum("calls"))["n"] or 0)


def run_totals_rebuild_with(run_model: Any, hourly_model: Any) -> int:
    """RunHourly recomputed from every run (also called by the migration that creates it, with
    its historical models). On PostgreSQL the runs table is locked against writes meanwhile,
    so no run ingested during the rebuild is missed or counted twice. Returns rows written."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {run_model._meta.db_table} IN SHARE MODE")
    hourly_model.objects.all().delete()
    written = 0
    batch = []
    for (hour, *dims), sums in _deltas_of(_grouped(run_model.objects.all()).iterator()).items():
        batch.append(
            hourly_model(
                hour=hour,
                **dict(zip(HOURLY_DIMS, dims, strict=True)),
                **dict(zip(_SUMS, sums, strict=True)),
            )
        )
        if len(batch) >= BATCH:
            written += len(hourly_model.objects.bulk_create(batch))
            batch = []
    written += len(hourly_model.objects.bulk_create(batch))
    return written


@transaction.atomic
def run_totals_rebuild() -> int:
    """Recompute the hourly run totals from the runs, for runs that did not come through
    ingestion (a restore, a bench's generated rows). Returns the rows written."""
    return run_totals_rebuild_with(Run, RunHourly)
