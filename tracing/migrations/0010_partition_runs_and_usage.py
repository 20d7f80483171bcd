"""Runs and usage rows partitioned by time on PostgreSQL (tracing/partitions.py); SQLite keeps
plain tables, and the models (Django's state) do not change.

Converting an existing database: each table is renamed aside, a partitioned table of the same
columns, checks, foreign keys and indexes takes its name (primary key (id, started_at), run_id
unique with started_at), partitions are created for the rows' recent days (runs, the last
RECENT_RUN_DAYS days; usage, the last RECENT_USAGE_MONTHS months; older rows go to the DEFAULT
partition, where retention deletes them by row) and for the days ahead, the rows are copied in
one INSERT ... SELECT, and the old table is dropped. All in the migration's transaction: the
tables are locked meanwhile (about a minute per few million runs), so stop the Celery workers
(the record stream waits in Redis) or accept that drains fail and retry until it is done.
Reversible: the reverse builds plain tables again the same way.
"""

from __future__ import annotations

import datetime as dt

from django.db import migrations

TABLES = {"tracing_run": "day", "tracing_usagerecord": "month"}
RECENT_RUN_DAYS = 62
RECENT_USAGE_MONTHS = 24


def _fetch(cursor, sql, params=()):
    cursor.execute(sql, params)
    return cursor.fetchall()


def _shape(cursor, table):
    """(index definitions, foreign-key definitions, identity sequence) of `table`, without the
    primary key and unique constraints (rebuilt with the new shape)."""
    constraint_indexes = {
        name
        for (name,) in _fetch(
            cursor,
            "SELECT conindid::regclass::text FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype IN ('p', 'u')",
            [table],
        )
    }
    indexes = [
        (name, definition)
        for name, definition in _fetch(
            cursor,
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE tablename = %s AND schemaname = current_schema()",
            [table],
        )
        if name not in constraint_indexes
    ]
    foreign = _fetch(
        cursor,
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = 'f'",
        [table],
    )
    return indexes, foreign


def _convert(cursor, table, *, partitioned, unit):
    old = f"{table}_before_conversion"
    indexes, foreign = _shape(cursor, table)
    cursor.execute(f'ALTER TABLE "{table}" RENAME TO "{old}"')
    for name, _ in indexes:  # index names are schema-wide: free them for the new table
        cursor.execute(f'DROP INDEX "{name}"')
    for name, _ in foreign:
        cursor.execute(f'ALTER TABLE "{old}" DROP CONSTRAINT "{name}"')
    # Constraints' indexes (primary key, unique) carry names the new table reuses too.
    for (name,) in _fetch(
        cursor,
        "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype IN ('p', 'u')",
        [old],
    ):
        cursor.execute(f'ALTER TABLE "{old}" RENAME CONSTRAINT "{name}" TO "{name}_old"')
    like = (
        f'(LIKE "{old}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY '
        "INCLUDING STORAGE)"
    )
    if partitioned:
        cursor.execute(f'CREATE TABLE "{table}" {like} PARTITION BY RANGE (started_at)')
        cursor.execute(
            f'ALTER TABLE "{table}" ADD CONSTRAINT "{table}_pkey" PRIMARY KEY (id, started_at)'
        )
        cursor.execute(
            f'ALTER TABLE "{table}" ADD CONSTRAINT "{table}_run_id_key" '
            "UNIQUE (run_id, started_at)"
        )
        cursor.execute(f'CREATE TABLE "{table}_default" PARTITION OF "{table}" DEFAULT')
    else:
        cursor.execute(f'CREATE TABLE "{table}" {like}')
        cursor.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{table}_pkey" PRIMARY KEY (id)')
        cursor.execute(
            f'ALTER TABLE "{table}" ADD CONSTRAINT "{table}_run_id_key" UNIQUE (run_id)'
        )
    for _, definition in indexes:
        cursor.execute(definition)
    for name, definition in foreign:
        cursor.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
    if partitioned:
        _partitions_for(cursor, table, old, unit)
    cursor.execute(f'INSERT INTO "{table}" OVERRIDING SYSTEM VALUE SELECT * FROM "{old}"')
    cursor.execute(f'DROP TABLE "{old}" CASCADE')
    cursor.execute(
        f"SELECT setval(pg_get_serial_sequence(%s, 'id'), "
        f'COALESCE((SELECT max(id) FROM "{table}"), 0) + 1, false)',
        [table],
    )
    cursor.execute(f'ANALYZE "{table}"')


def _partitions_for(cursor, table, old, unit):
    from tracing.partitions import Layout, _create, period_end, period_start

    now = dt.datetime.now(tz=dt.UTC)
    ((oldest,),) = _fetch(cursor, f'SELECT min(started_at) FROM "{old}"')
    if unit == "day":
        floor = now - dt.timedelta(days=RECENT_RUN_DAYS)
    else:
        floor = now - dt.timedelta(days=31 * RECENT_USAGE_MONTHS)
    start = period_start(unit, max(oldest, floor) if oldest else now)
    last = period_start(unit, now + dt.timedelta(days=7))
    layout = Layout(table, unit)
    while start <= last:
        _create(cursor, layout, start)
        start = period_end(unit, start)


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for table, unit in TABLES.items():
            _convert(cursor, table, partitioned=True, unit=unit)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for table, unit in TABLES.items():
            _convert(cursor, table, partitioned=False, unit=unit)


class Migration(migrations.Migration):
    dependencies = [("tracing", "0009_usage_org_index_status")]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
