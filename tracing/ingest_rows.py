"""Rows of the run and usage tables built straight from call records, and the two writers.

Why not Model(...) + bulk_create on PostgreSQL: measured on the ingest benchmark, building
model instances and having the ORM render a multi-row INSERT cost ~80% of the drain time
(one Python call per field per row). On PostgreSQL the rows are streamed with COPY into a
session temp table, then moved with INSERT ... SELECT ... ON CONFLICT (run_id) DO NOTHING
RETURNING run_id: the server does the duplicate check, and the returned ids say exactly which
runs are new. (No conflict target: on the time-partitioned tables the unique key is
(run_id, started_at) for runs and (started_at, run_id) for usage rows, tracing.partitions;
a record delivered twice has the same started_at.) SQLite (the embedded default) gets a pre-check of the ids already stored,
inside the same transaction, then plain executemany INSERTs of the same rows (model
instances would cost the same ~80% there).
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson
import psycopg
from django.db import connection, transaction

from tracing.models import TOKEN_FIELDS, Run, UsageRecord

RUN_COLUMNS = (
    "run_id",
    "trace_id",
    "project_id",
    "organization_id",
    "workspace_id",
    "key_id",
    "key_prefix",
    "user_id",
    "customer",
    "name",
    "started_at",
    "ended_at",
    "first_token_at",
    "status",
    "http_status",
    "error",
    "dialect",
    "provider",
    "model",
    "method",
    "path",
    "stream",
    *TOKEN_FIELDS,
    "cost_usd",
    "price_missing",
    "usage_estimated",
    "usage_note",
    "policy_outcome",
    "policy_results",
    "redaction_counts",
    "user_agent",
    "request_metadata",
    "request_content",
    "response_content",
)
USAGE_COLUMNS = (
    "run_id",
    "started_at",
    "organization_id",
    "workspace_id",
    "key_id",
    "user_id",
    "customer",
    "provider",
    "model",
    "status",
    *TOKEN_FIELDS,
    "cost_usd",
    "price_missing",
    "usage_estimated",
)
JSON_COLUMNS = frozenset(
    {
        "policy_results",
        "redaction_counts",
        "request_metadata",
        "request_content",
        "response_content",
    }
)
TIME_COLUMNS = frozenset({"started_at", "ended_at", "first_token_at"})
_TENTH_NANO = Decimal("1e-10")
STATUSES = frozenset(Run.Status.values)


def _ts(value: float | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(value, tz=dt.UTC)


def _cost(value: float | None) -> Decimal | None:
    # Quantised to the column's 10 decimal places so the stored value round-trips exactly;
    # NaN or infinity (never a real price) is stored as "no price" rather than failing.
    if value is None or not math.isfinite(value):
        return None
    return Decimal(repr(float(value))).quantize(_TENTH_NANO)


_INT_MAX = 2**31 - 1


def _count(value: object) -> int:
    """A token count the column accepts: an int in [0, 2**31 - 1] (a provider reporting a
    negative or absurd count must not make the whole batch fail its CHECK constraint)."""
    try:
        return min(max(int(value), 0), _INT_MAX)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 0


_INT_ONLY = frozenset({int})


def _counts(record: Mapping[str, Any]) -> tuple[int, ...]:
    """The record's TOKEN_FIELDS as _count makes them (a missing one is 0); the common case
    (every one an int in range: three C calls) skips the per-value checks, the ingest's
    costliest Python step."""
    values = tuple(map(record.get, TOKEN_FIELDS))
    try:
        if min(values) >= 0 and max(values) <= _INT_MAX and set(map(type, values)) <= _INT_ONLY:
            return values  # type: ignore[return-value]
    except TypeError:  # None, or a type that does not compare with int
        pass
    return tuple(_count(value) for value in values)


def _text(value: str | None, limit: int) -> str:
    # PostgreSQL text cannot hold NUL; callers control user agents, paths and error bodies.
    text = (value or "")[:limit]
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def _clean_json(value: Any) -> Any:
    """Replace NUL in every string of a JSON value (jsonb refuses \\u0000)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_clean_json(k): _clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_json(v) for v in value]
    return value


def json_text(value: Any) -> str:
    """The JSON text COPY writes into a jsonb column."""
    dumped = orjson.dumps(value)
    if b"\\u0000" in dumped:
        dumped = orjson.dumps(_clean_json(value))
    return dumped.decode()


def record_rows(
    record: Mapping[str, Any],
    *,
    run_id: uuid.UUID,
    project_id: int,
    organization_id: int | None,
    keep_content: bool,
    policy_outcome: str,
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """(run row, usage row) in RUN_COLUMNS / USAGE_COLUMNS order, truncated to column sizes,
    read straight from a call record's dict (hotpath.callrecord.CallRecord's fields, as
    decoded from the stream or the spool: a missing field takes CallRecord's default)."""
    get = record.get
    started = _ts(record["started_at"])
    cost = _cost(get("cost_usd"))
    status = get("status", "success")
    if status not in STATUSES:
        status = Run.Status.ERROR.value
    provider, model = _text(get("provider"), 32), _text(get("model"), 200)
    customer = _text(get("customer"), 128)
    workspace_id, key_id, user_id = record["workspace_id"], get("key_id"), get("user_id")
    price_missing, estimated = bool(get("price_missing")), bool(get("usage_estimated"))
    tokens = _counts(record)
    run = (
        run_id,
        _text(get("trace_id") or record["run_id"], 64),
        project_id,
        organization_id,
        workspace_id,
        key_id,
        _text(get("key_prefix"), 64),
        user_id,
        customer,
        _text(get("name"), 64),
        started,
        _ts(get("ended_at")),
        _ts(get("first_token_at")),
        status,
        min(max(int(get("http_status", 200) or 0), 0), 32767),
        _text(get("error"), 100_000),
        _text(get("dialect"), 16),
        provider,
        model,
        _text(get("method", "POST"), 8),
        _text(get("path"), 500),
        bool(get("stream")),
        *tokens,
        cost,
        price_missing,
        estimated,
        _text(get("usage_note"), 500),
        policy_outcome,
        get("policy_results") or {},
        get("redaction_counts") or {},
        _text(get("user_agent"), 500),
        get("request_metadata") or {},
        get("request_content") if keep_content else None,
        get("response_content") if keep_content else None,
    )
    usage = (
        run_id,
        started,
        organization_id,
        workspace_id,
        key_id,
        user_id,
        customer,
        provider,
        model,
        status,
        *tokens,
        cost,
        price_missing,
        estimated,
    )
    return run, usage


def rows_insert(runs: list[tuple[Any, ...]], usages: list[tuple[Any, ...]]) -> set[uuid.UUID]:
    """Insert the rows (inside the caller's transaction); return the run ids that were new."""
    if connection.vendor == "postgresql":
        return _copy_insert(runs, usages)
    return _sqlite_insert(runs, usages)


def _sqlite_rows(
    rows: list[tuple[Any, ...]], columns: tuple[str, ...], skip: set[str]
) -> list[list[Any]]:
    """The rows not in `skip` (run ids as hex), as Django's SQLite backend stores them
    (checked against the ORM by the tests): uuid as 32 hex digits, datetimes as naive UTC
    text, JSON columns as JSON text (NULL for None). Decimals, ints, bools and str go as they
    are (Django registers the Decimal adapter)."""
    json_at = [i for i, c in enumerate(columns) if c in JSON_COLUMNS]
    time_at = [i for i, c in enumerate(columns) if c in TIME_COLUMNS]
    out = []
    for row in rows:
        key = row[0].hex
        if key in skip:
            continue
        values = list(row)
        values[0] = key
        for i in time_at:
            if values[i] is not None:
                values[i] = str(values[i].astimezone(dt.UTC).replace(tzinfo=None))
        for i in json_at:
            if values[i] is not None:
                values[i] = orjson.dumps(values[i]).decode()
        out.append(values)
    return out


def _sqlite_insert(runs: list[tuple[Any, ...]], usages: list[tuple[Any, ...]]) -> set[uuid.UUID]:
    """Plain parameterised INSERTs (no model instances: they cost most of the ingest time).
    The ids already stored are read first, in the same transaction, so the count of new runs
    is exact; ON CONFLICT DO NOTHING keeps a concurrent duplicate harmless."""
    ids = [row[0].hex for row in runs]
    seen: set[str] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            cursor.execute(
                f"SELECT run_id FROM {Run._meta.db_table} WHERE run_id IN "
                f"({', '.join(['%s'] * len(chunk))})",
                chunk,
            )
            seen.update(row[0] for row in cursor.fetchall())
        for table, columns, rows in (
            (Run._meta.db_table, RUN_COLUMNS, runs),
            (UsageRecord._meta.db_table, USAGE_COLUMNS, usages),
        ):
            fresh = _sqlite_rows(rows, columns, seen)
            if fresh:
                cursor.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                    f"({', '.join(['%s'] * len(columns))}) ON CONFLICT (run_id) DO NOTHING",
                    fresh,
                )
    return {row[0] for row in runs if row[0].hex not in seen}


def _copy_rows(
    cursor: Any, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    json_at = [i for i, c in enumerate(columns) if c in JSON_COLUMNS]
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            if json_at:
                row = list(row)
                for i in json_at:
                    if row[i] is not None:
                        row[i] = json_text(row[i])
            copy.write_row(row)


def _stage_tables(cursor: Any) -> None:
    for stage, model, columns in (
        ("tracing_run_stage", Run, RUN_COLUMNS),
        ("tracing_usage_stage", UsageRecord, USAGE_COLUMNS),
    ):
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "
            f"SELECT {', '.join(columns)} FROM {model._meta.db_table} WITH NO DATA"
        )


def _staged_insert(
    cursor: Any, runs: list[tuple[Any, ...]], usages: list[tuple[Any, ...]]
) -> set[uuid.UUID]:
    """COPY into temp tables, then INSERT ... ON CONFLICT DO NOTHING: correct whatever a
    concurrent ingest stored meanwhile."""
    run_cols, usage_cols = ", ".join(RUN_COLUMNS), ", ".join(USAGE_COLUMNS)
    _stage_tables(cursor)
    _copy_rows(cursor, "tracing_run_stage", RUN_COLUMNS, runs)
    _copy_rows(cursor, "tracing_usage_stage", USAGE_COLUMNS, usages)
    cursor.execute(
        f"INSERT INTO {Run._meta.db_table} ({run_cols}) SELECT {run_cols} FROM tracing_run_stage "
        "ON CONFLICT DO NOTHING RETURNING run_id"
    )
    new_ids = {row[0] for row in cursor.fetchall()}
    cursor.execute(
        f"INSERT INTO {UsageRecord._meta.db_table} ({usage_cols}) SELECT {usage_cols} "
        "FROM tracing_usage_stage ON CONFLICT DO NOTHING"
    )
    # Emptied at commit anyway; cleared now so a second ingest in one transaction starts clean.
    cursor.execute("DELETE FROM tracing_run_stage")
    cursor.execute("DELETE FROM tracing_usage_stage")
    return new_ids


def _copy_insert(runs: list[tuple[Any, ...]], usages: list[tuple[Any, ...]]) -> set[uuid.UUID]:
    """The fast path COPYs straight into both tables, inside a savepoint. When any run of the
    batch is already stored (a redelivered stream entry, a replayed spool file, a concurrent
    ingest), the COPY fails on the unique run_id, the savepoint is rolled back and the batch
    goes through the staged ON CONFLICT path. Either way each run is stored once, and the
    common case (no duplicate) pays for no duplicate check at all."""
    # wrap_database_errors turns psycopg's own exceptions into django.db's (DataError,
    # IntegrityError, OperationalError) for the callers, as Django's cursors do.
    with connection.cursor() as wrapper, connection.wrap_database_errors:
        cursor = wrapper.cursor  # the psycopg cursor (COPY is not part of the DB-API)
        try:
            with transaction.atomic():
                _copy_rows(cursor, Run._meta.db_table, RUN_COLUMNS, runs)
                _copy_rows(cursor, UsageRecord._meta.db_table, USAGE_COLUMNS, usages)
        except psycopg.errors.UniqueViolation:
            return _staged_insert(cursor, runs, usages)
    return {r[0] for r in runs}
