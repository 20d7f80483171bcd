"""Shipping call records off the request path: the sink the proxy calls, and the drain.

    proxy asyncio.Queue ──batches──► ship_records (a worker thread of the gateway process)
        REDIS_URL set:   XADD one entry per batch to the stream GATEWAY_RECORD_STREAM
                         ──► tracing.tasks.drain_runs (Celery, beat every second)
                             XREADGROUP ► runs_ingest (PostgreSQL) ► XACK + XDEL
        REDIS_URL unset: append to the spool (tracing.spool), fsynced
                         ──► the record writer process (tracing.writer) ► runs_ingest
        Redis down:      append to the spool; the next successful ship replays it first

Why a stream with a consumer group and not a list: an entry stays pending until a worker
acknowledges it after the database commit, so a worker killed mid-batch, or a database that is
briefly down, loses nothing: the next drain reclaims entries idle for
GATEWAY_RECORD_CLAIM_IDLE_SECONDS
(XAUTOCLAIM). Delivery is at-least-once; runs_ingest is idempotent by run_id.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import orjson
import redis
from django.conf import settings
from django.db import DatabaseError, connection

from hotpath.redis_client import REDIS_ERRORS, sync_client
from tracing.services import records_ingest
from tracing.spool import ShippedRecord, record_decoded, spool_pending, spool_replay, spool_write
from tracing.writer import writer_ensure, writer_release

logger = logging.getLogger(__name__)

GROUP = "ingest"
# After a failed connection, skip Redis for this long and spool directly: a dead broker must
# not cost every batch a connect timeout.
RETRY_AFTER_SECONDS = 1.0


@dataclass
class _Broker:
    """The per-process Redis client for one URL, and when it last failed."""

    client: Any  # redis.Redis or redis.cluster.RedisCluster (hotpath.redis_client)
    down_until: float = 0.0
    group_ready: set[str] = field(default_factory=set)


_brokers: dict[str, _Broker] = {}


def _broker(url: str) -> _Broker:
    broker = _brokers.get(url)
    if broker is None:
        client = sync_client(
            url, socket_connect_timeout=0.5, socket_timeout=5.0, health_check_interval=30
        )
        broker = _brokers.setdefault(url, _Broker(client=client))
    return broker


def _stream() -> str:
    return settings.GATEWAY_RECORD_STREAM


def _encode(records: list[ShippedRecord]) -> bytes:
    # orjson serialises dataclasses natively: the same JSON as to_dict(), ~20x faster.
    return orjson.dumps(records)


def records_push(records: list[ShippedRecord]) -> None:
    """XADD one stream entry holding the batch (raises redis.RedisError when unreachable)."""
    _broker(settings.REDIS_URL).client.xadd(_stream(), {"b": _encode(records)})


def _ship_redis(records: list[ShippedRecord]) -> None:
    broker = _broker(settings.REDIS_URL)
    if time.monotonic() < broker.down_until:
        spool_write(records)
        return
    try:
        if spool_pending():
            spool_replay(records_push, transient=REDIS_ERRORS)
        records_push(records)
    except REDIS_ERRORS as exc:
        broker.down_until = time.monotonic() + RETRY_AFTER_SECONDS
        logger.warning("tracing: Redis unreachable (%s); spooling %d record(s)", exc, len(records))
        spool_write(records)


def _ship_local(records: list[ShippedRecord]) -> None:
    """Without Redis: spool the batch (durable from here on) for the record writer process
    (tracing.writer), and make sure one runs. A database the writer would not open (SQLite in
    memory, a test database) is written in this thread instead."""
    if not _shared_database():
        _ingest_here(records)
        return
    if spool_write(records) == len(records):
        writer_ensure()


def _shared_database() -> bool:
    """True when a process started from this environment, as the writer is, opens the database
    this process writes: not so for SQLite in memory, nor for a test runner's database."""
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        return False
    url = os.environ.get("DATABASE_URL")
    if url:  # the database name, as settings.parse_database_url reads it
        fresh = unquote(urlparse(url).path.lstrip("/")) or "postgres"
    else:
        fresh = os.environ.get("SQLITE_PATH", str(Path(settings.BASE_DIR) / "db.sqlite3"))
    return str(connection.settings_dict["NAME"]) == fresh


def _ingest_here(records: list[ShippedRecord]) -> None:
    # This thread outlives requests, so Django's per-request connection hygiene never runs
    # here: the connection is closed after each batch, so a broken one is never reused and
    # none outlives the server. Never inside a caller's transaction (tests call the sink).
    own_connection = not connection.in_atomic_block
    try:
        if spool_pending():
            spool_replay(records_ingest, transient=(DatabaseError,))
        records_ingest(records)
    except DatabaseError as exc:
        logger.warning(
            "tracing: database unavailable (%s); spooling %d record(s)", exc, len(records)
        )
        spool_write(records)
    finally:
        if own_connection:
            connection.close()


def spool_flush() -> int:
    """Replay the spool now, where ship_records would send it; return the count replayed.
    Raises redis.RedisError / DatabaseError when the destination is still unreachable (the
    spool is then kept)."""
    if settings.REDIS_URL:
        return spool_replay(records_push, transient=REDIS_ERRORS)
    return spool_replay(records_ingest, transient=(DatabaseError,))


def ship_records(records: list[ShippedRecord]) -> None:
    """The GATEWAY_RECORD_SINK: deliver a batch of call records without ever raising for an
    unreachable broker or database (the records are spooled to disk instead).

    Sync; the proxy calls it from a worker thread, never on the event loop.
    """
    if not records:
        return
    if settings.REDIS_URL:
        _ship_redis(records)
    else:
        _ship_local(records)


def _ship_open() -> None:
    """Called by the recorder when it starts (the sink's `open`): without Redis, the record
    writer is started now rather than at the first batch, so that a server stopped right after
    its first calls does not wait for a writer still starting up."""
    if not settings.REDIS_URL and _shared_database():
        writer_ensure()


def _ship_close() -> None:
    """Called by the recorder after its last batch (the sink's `close`)."""
    if not settings.REDIS_URL:
        writer_release()


ship_records.open = _ship_open  # type: ignore[attr-defined]
ship_records.close = _ship_close  # type: ignore[attr-defined]


def _ensure_group(broker: _Broker, stream: str) -> None:
    if stream in broker.group_ready:
        return
    try:
        broker.client.xgroup_create(stream, GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
    broker.group_ready.add(stream)


def _decode(
    entries: list[tuple[bytes, dict[bytes, bytes]]],
) -> tuple[list[bytes], list[ShippedRecord]]:
    ids, records = [], []
    for entry_id, fields in entries:
        ids.append(entry_id)
        try:
            records.extend(record_decoded(d) for d in orjson.loads(fields[b"b"]))
        except (KeyError, TypeError, orjson.JSONDecodeError) as exc:
            # A poison entry would otherwise be re-delivered forever; it is acknowledged.
            logger.error("tracing: dropped unreadable stream entry %r (%s)", entry_id, exc)
    return ids, records


def runs_drain(
    *, max_seconds: float = 5.0, entries_per_read: int = 8, claim_idle_ms: int | None = None
) -> int:
    """Move records from the Redis stream into the database; return how many were read.

    Reads in batches (entries_per_read stream entries, each one proxy batch), ingests each
    batch in one transaction, then acknowledges and deletes the entries. Stops when the stream
    is empty or after max_seconds (beat starts the next drain a second later). Entries a dead
    worker (or a failed ingest) left pending for claim_idle_ms are taken over first.

    A Redis that lost the stream or its consumer group (restarted without persistence, failed
    over to a replica that never had them, flushed) answers NOGROUP: the group is created again
    (from the first entry, so records shipped since are drained too) and the drain goes on,
    rather than failing every run until the worker restarts.
    """
    if claim_idle_ms is None:
        claim_idle_ms = int(settings.GATEWAY_RECORD_CLAIM_IDLE_SECONDS * 1000)
    broker = _broker(settings.REDIS_URL)
    stream = _stream()
    _ensure_group(broker, stream)
    try:
        return _drain(broker, stream, max_seconds, entries_per_read, claim_idle_ms)
    except redis.ResponseError as exc:
        if "NOGROUP" not in str(exc):
            raise
        logger.warning("tracing: Redis lost the %s consumer group; creating it again", stream)
        broker.group_ready.discard(stream)
        _ensure_group(broker, stream)
        return _drain(broker, stream, max_seconds, entries_per_read, claim_idle_ms)


def _drain(
    broker: _Broker, stream: str, max_seconds: float, entries_per_read: int, claim_idle_ms: int
) -> int:
    consumer = f"{socket.gethostname()}-{os.getpid()}"
    _, claimed, *_ = broker.client.xautoclaim(
        stream, GROUP, consumer, min_idle_time=claim_idle_ms, start_id="0-0", count=entries_per_read
    )
    deadline = time.monotonic() + max_seconds
    total = 0
    pending = claimed
    while True:
        if not pending:
            response = broker.client.xreadgroup(
                GROUP, consumer, {stream: ">"}, count=entries_per_read
            )
            pending = response[0][1] if response else []
        if not pending:
            break
        ids, records = _decode(pending)
        records_ingest(records)
        broker.client.xack(stream, GROUP, *ids)
        broker.client.xdel(stream, *ids)
        total += len(records)
        pending = []
        if time.monotonic() >= deadline:
            break
    return total


def stream_length() -> int:
    """Entries (batches) waiting in the stream, for health checks and benchmarks."""
    return int(_broker(settings.REDIS_URL).client.xlen(_stream()))
