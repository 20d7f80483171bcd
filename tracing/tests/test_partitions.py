"""Runs and usage partitioned by time on PostgreSQL: ingestion lands each row in its period's
partition, a redelivered record is stored once, partitions are created ahead and take the rows
the DEFAULT partition held for their period, and retention drops whole partitions."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from tracing import partitions
from tracing.models import Run, UsageRecord
from tracing.services import runs_ingest, runs_prune
from tracing.tests.factories import call_record

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

NOW = dt.datetime.now(tz=dt.UTC)


def _at(owner, days_ago: float):
    return call_record(owner, started_at=(NOW - dt.timedelta(days=days_ago)).timestamp())


def _partition_of(table: str, run_id: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text FROM {table} WHERE run_id = %s", [run_id])
        return cursor.fetchone()[0]


def test_the_tables_are_partitioned_by_day_and_month():
    assert partitions.is_partitioned("tracing_run")
    assert partitions.is_partitioned("tracing_usagerecord")
    days = [p for p in partitions.partitions("tracing_run") if p.end > NOW]
    assert len(days) >= partitions.AHEAD_DAYS  # today and the days ahead exist
    assert all(p.end - p.start == dt.timedelta(days=1) for p in days)
    months = partitions.partitions("tracing_usagerecord")
    assert months and all(p.start.day == 1 for p in months)


def test_a_run_lands_in_its_days_partition_and_is_stored_once(owner):
    record = _at(owner, 0)
    assert runs_ingest([record, record]) == 1
    assert runs_ingest([record]) == 0  # redelivered: the same started_at, the same partition
    day = partitions.period_start("day", NOW)
    assert _partition_of("tracing_run", record.run_id) == (f"tracing_run_p{day:%Y%m%d}")
    assert _partition_of("tracing_usagerecord", record.run_id) == f"tracing_usagerecord_p{day:%Y%m}"
    assert Run.objects.count() == 1 and UsageRecord.objects.count() == 1


def test_a_partition_created_later_takes_the_rows_the_default_partition_held(owner):
    old = _at(owner, 20)  # before the partitions the migration created: DEFAULT
    runs_ingest([old])
    assert _partition_of("tracing_run", old.run_id) == "tracing_run_default"
    since = NOW - dt.timedelta(days=21)
    assert partitions.partitions_ensure(now=NOW, since=since) >= 20
    day = partitions.period_start("day", NOW - dt.timedelta(days=20))
    assert _partition_of("tracing_run", old.run_id) == f"tracing_run_p{day:%Y%m%d}"
    assert partitions.partitions_ensure(now=NOW, since=since) == 0  # idempotent


def test_retention_drops_whole_partitions(owner):
    partitions.partitions_ensure(now=NOW, since=NOW - dt.timedelta(days=12))
    runs_ingest([_at(owner, 11), _at(owner, 11.2), _at(owner, 2), _at(owner, 45)])
    before = {p.name for p in partitions.partitions("tracing_run")}
    runs, usage = runs_prune(run_days=10, usage_days=400)
    after = {p.name for p in partitions.partitions("tracing_run")}
    dropped = before - after
    assert dropped and all(
        p < f"tracing_run_p{partitions.period_start('day', NOW - dt.timedelta(days=10)):%Y%m%d}"
        for p in dropped
    )
    # the two runs of 11 days ago went with their partition, the one of 45 days ago (DEFAULT)
    # by row
    assert (runs, usage) == (3, 0)
    assert Run.objects.count() == 1 and UsageRecord.objects.count() == 4


def test_a_dropped_usage_month_is_counted_from_the_daily_totals_not_read(owner):
    from django.test.utils import CaptureQueriesContext

    from tracing.rollup import usage_rollup_refresh

    partitions.partitions_ensure(now=NOW, since=NOW - dt.timedelta(days=85))
    old = [_at(owner, 80), _at(owner, 80.1), _at(owner, 81)]  # a month ended 49+ days ago
    runs_ingest([*old, _at(owner, 1)])
    usage_rollup_refresh()  # what the beat task does every 5 minutes
    with CaptureQueriesContext(connection) as queries:
        runs, usage = runs_prune(run_days=0, usage_days=40)
    assert (runs, usage) == (0, 3)
    assert UsageRecord.objects.count() == 1 and Run.objects.count() == 4
    assert not [q["sql"] for q in queries.captured_queries if "count(" in q["sql"].lower()]
