"""Time partitions of the runs and usage tables on PostgreSQL (SQLite keeps plain tables).

    tracing_run          PARTITION BY RANGE (started_at), one partition per UTC day
    tracing_usagerecord  PARTITION BY RANGE (started_at), one partition per UTC month
    each also has a DEFAULT partition, normally empty, that takes a row no partition covers
    (a record replayed long after its call, a test's run from years ago)

Why: a runs list or a usage summary names a time range, and PostgreSQL reads only the
partitions in it; retention drops whole partitions (a catalogue change, milliseconds) where a
DELETE would touch and vacuum every row; inserts go to one small, hot partition whose indexes
stay in memory.

What the tables keep: the primary key is (id, started_at) and the idempotency key is unique
on (run_id, started_at) for runs, (started_at, run_id) for usage rows (tracing 0014: inserts
land at its newest end, and it serves time ranges), since a partitioned table's unique
constraints must contain the partition key. A record redelivered or replayed carries the same started_at, so it still
conflicts with its first copy (ingestion inserts with ON CONFLICT DO NOTHING). Nothing
references these tables by foreign key.

Who makes partitions: the migration that converts the tables (tracing 0010) covers the rows it
moves and the days ahead; beat runs `tracing.tasks.prune_runs` (which calls
`partitions_ensure`) every 10 minutes, creating AHEAD_DAYS of partitions ahead. A partition
created for a range the DEFAULT partition already holds rows of takes those rows with it.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass

from django.db import connection, transaction

logger = logging.getLogger(__name__)

AHEAD_DAYS = 7


@dataclass(frozen=True)
class Layout:
    table: str
    unit: str  # day | month


LAYOUTS = (Layout("tracing_run", "day"), Layout("tracing_usagerecord", "month"))
_BOUND = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")


def supported() -> bool:
    return connection.vendor == "postgresql"


def is_partitioned(table: str) -> bool:
    if not supported():
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
            "WHERE c.relname = %s AND c.relnamespace = current_schema()::regnamespace",
            [table],
        )
        return cursor.fetchone() is not None


def period_start(unit: str, moment: dt.datetime | dt.date) -> dt.datetime:
    day = moment.astimezone(dt.UTC).date() if isinstance(moment, dt.datetime) else moment
    if unit == "month":
        day = day.replace(day=1)
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def period_end(unit: str, start: dt.datetime) -> dt.datetime:
    if unit == "day":
        return start + dt.timedelta(days=1)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return start.replace(year=year, month=month)


def partition_name(layout: Layout, start: dt.datetime) -> str:
    return (
        f"{layout.table}_p{start:%Y%m%d}"
        if layout.unit == "day"
        else (f"{layout.table}_p{start:%Y%m}")
    )


@dataclass(frozen=True)
class Partition:
    name: str
    start: dt.datetime
    end: dt.datetime


def partitions(table: str) -> list[Partition]:
    """The range partitions of `table`, oldest first (the DEFAULT partition left out)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
            "WHERE p.relname = %s AND p.relnamespace = current_schema()::regnamespace",
            [table],
        )
        found = []
        for name, bound in cursor.fetchall():
            match = _BOUND.search(bound or "")
            if match:
                start, end = (dt.datetime.fromisoformat(v) for v in match.groups())
                found.append(Partition(name, start.astimezone(dt.UTC), end.astimezone(dt.UTC)))
    return sorted(found, key=lambda p: p.start)


def _create(cursor: object, layout: Layout, start: dt.datetime) -> bool:
    """The partition of `start`'s period, unless it exists. Rows of that period the DEFAULT
    partition holds are moved into it (PostgreSQL refuses to attach a range the default
    partition has rows of)."""
    end = period_end(layout.unit, start)
    name = partition_name(layout, start)
    default = f"{layout.table}_default"
    cursor.execute("SELECT to_regclass(%s)", [name])  # type: ignore[attr-defined]
    if cursor.fetchone()[0] is not None:  # type: ignore[attr-defined]
        return False
    cursor.execute(  # type: ignore[attr-defined]
        f'CREATE TABLE "{name}" (LIKE "{layout.table}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS)'
    )
    cursor.execute(  # type: ignore[attr-defined]
        f'WITH moved AS (DELETE FROM "{default}" WHERE started_at >= %s AND started_at < %s '
        f'RETURNING *) INSERT INTO "{name}" SELECT * FROM moved',
        [start, end],
    )
    cursor.execute(  # type: ignore[attr-defined]
        f'ALTER TABLE "{layout.table}" ATTACH PARTITION "{name}" FOR VALUES FROM (%s) TO (%s)',
        [start, end],
    )
    return True


def partitions_ensure(
    *,
    now: dt.datetime | None = None,
    ahead_days: int = AHEAD_DAYS,
    since: dt.datetime | None = None,
) -> int:
    """Create the partitions from `since` (default: today) through `ahead_days` after today,
    each in a short transaction of its own. Returns how many were created."""
    if not supported():
        return 0
    now = now or dt.datetime.now(tz=dt.UTC)
    created = 0
    for layout in LAYOUTS:
        if not is_partitioned(layout.table):
            continue
        start = period_start(layout.unit, since or now)
        last = period_start(layout.unit, now + dt.timedelta(days=ahead_days))
        while start <= last:
            with transaction.atomic(), connection.cursor() as cursor:
                created += _create(cursor, layout, start)
            start = period_end(layout.unit, start)
    if created:
        logger.info("tracing: created %d partition(s)", created)
    return created


def partitions_drop_before(table: str, cutoff: dt.datetime) -> tuple[int, int]:
    """Drop every partition of `table` that ends at or before `cutoff`, and delete the DEFAULT
    partition's rows older than it. Returns (rows removed, partitions dropped).

    No dropped partition is read: a day of runs is counted from its hourly totals, which go in
    the same transaction (the DEFAULT partition's deleted runs are subtracted from theirs); a
    month of usage rows from its daily totals (UsageDaily, which stay: they are summaries), as
    the last rollup counted them (a count(*) would read tens of millions of rows for a number
    that only the prune task's result reports)."""
    from tracing import rollup

    runs = table == "tracing_run"
    removed = dropped = 0
    for part in partitions(table):
        if part.end > cutoff:
            break
        with transaction.atomic(), connection.cursor() as cursor:
            # Deferred foreign-key checks of rows inserted earlier in this transaction (the
            # project of a run) would block the DROP: run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            if runs:
                removed += rollup.run_hourly_drop(part.start, part.end)
            else:
                removed += rollup.usage_daily_calls(part.start, part.end)
            # DETACH first: DROP of an attached partition takes a lock on the parent for
            # longer; detached, it is a table of its own.
            cursor.execute(f'ALTER TABLE "{table}" DETACH PARTITION "{part.name}"')
            cursor.execute(f'DROP TABLE "{part.name}"')
        dropped += 1
    with transaction.atomic(), connection.cursor() as cursor:
        if runs:
            cursor.execute(
                f"WITH gone AS (DELETE FROM {table}_default WHERE started_at < %s RETURNING *) "
                "SELECT date_trunc('hour', started_at, 'UTC'), coalesce(workspace_id, 0), "
                "project_id, coalesce(key_id, 0), coalesce(user_id, 0), model, status, "
                "policy_outcome, count(*), sum(input_tokens), sum(output_tokens), "
                "sum(cost_usd), count(*) FILTER (WHERE cost_usd IS NULL) FROM gone "
                "GROUP BY 1, 2, 3, 4, 5, 6, 7, 8",
                [cutoff],
            )
            rows = cursor.fetchall()
            rollup.run_hourly_subtract_rows(rows)
            removed += sum(row[8] for row in rows)
        else:
            cursor.execute(f'DELETE FROM "{table}_default" WHERE started_at < %s', [cutoff])
            removed += cursor.rowcount
    if dropped:
        logger.info("tracing: dropped %d partition(s) of %s before %s", dropped, table, cutoff)
    return removed, dropped
