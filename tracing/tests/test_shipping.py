from __future__ import annotations

import os
import uuid

import orjson
import pytest
import redis

from hotpath.redis_client import sync_client
from tracing.models import Run, UsageRecord
from tracing.shipping import GROUP, records_push, ship_records, stream_length
from tracing.spool import spool_pending, spool_replay, spool_size, spool_write
from tracing.tasks import drain_runs
from tracing.tests.factories import call_record

pytestmark = pytest.mark.django_db

DEAD_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def spool(settings, tmp_path):
    settings.GATEWAY_SPOOL_DIR = str(tmp_path / "spool")
    settings.GATEWAY_SPOOL_MAX_BYTES = 10 * 1024 * 1024
    return tmp_path / "spool"


@pytest.fixture(params=["server", pytest.param("cluster", marks=pytest.mark.redis_cluster)])
def live_redis(request, settings, spool):
    """The real Redis of REDIS_URL, and a Redis Cluster of 3 masters, each with a stream of
    this test's own (deleted afterwards)."""
    if request.param == "cluster":
        url = request.getfixturevalue("redis_cluster").url
    else:
        url = os.environ["REDIS_URL"]
    settings.REDIS_URL = url
    settings.GATEWAY_RECORD_STREAM = f"test:runs:{uuid.uuid4().hex}"
    yield url
    sync_client(url).delete(settings.GATEWAY_RECORD_STREAM)


def stored_run_ids() -> set[str]:
    return {u.hex for u in Run.objects.values_list("run_id", flat=True)}


def test_without_redis_records_are_written_in_process(settings, spool, owner):
    settings.REDIS_URL = ""
    batch = [call_record(owner) for _ in range(3)]
    ship_records(batch)
    assert stored_run_ids() == {r.run_id for r in batch}
    assert UsageRecord.objects.count() == 3
    assert not spool_pending()


def test_without_redis_a_spooled_batch_is_replayed_by_the_next_ship(settings, spool, owner):
    settings.REDIS_URL = ""
    spooled = [call_record(owner) for _ in range(4)]
    assert spool_write(spooled) == 4
    assert spool_pending()
    later = [call_record(owner)]
    ship_records(later)
    assert stored_run_ids() == {r.run_id for r in spooled + later}
    assert not spool_pending()


def test_the_spool_is_bounded(settings, spool, owner):
    settings.GATEWAY_SPOOL_MAX_BYTES = 2000
    assert spool_write([call_record(owner)]) == 1
    assert spool_write([call_record(owner) for _ in range(5)]) == 0
    assert spool_size() <= 2000


def test_a_torn_line_is_skipped_and_the_rest_replayed(spool, owner):
    good = [call_record(owner), call_record(owner)]
    spool_write(good)
    (spool / "records-crashed-1.jsonl").write_bytes(orjson.dumps(good[0].to_dict())[:40])
    pushed: list = []
    assert spool_replay(pushed.extend) == 2
    assert [r["run_id"] for r in pushed] == [r.run_id for r in good]  # decoded dicts
    assert not spool_pending()


def test_a_failed_replay_puts_the_file_back(spool, owner):
    spool_write([call_record(owner), call_record(owner)])

    def broken(records):
        raise redis.ConnectionError("down")

    with pytest.raises(redis.ConnectionError):
        spool_replay(broken)
    assert spool_pending()
    pushed: list = []
    assert spool_replay(pushed.extend) == 2


def test_a_spooled_file_is_read_a_chunk_at_a_time_as_it_is_pushed(spool, owner, monkeypatch):
    """A file spooled while the record writer lagged holds minutes of records (up to the
    spool's bound): each chunk is pushed before the next one is read, so the replaying process
    holds one chunk in memory, not the file (read whole, the writer's RSS followed the backlog:
    from 105 to 319 MB, measured under load with 229 MB spooled)."""
    from tracing import spool as spool_module

    spooled = [call_record(owner) for _ in range(25)]
    assert spool_write(spooled) == 25
    decoded = 0
    real = spool_module.record_decoded

    def counting(data):
        nonlocal decoded
        decoded += 1
        return real(data)

    monkeypatch.setattr(spool_module, "record_decoded", counting)
    pushes: list = []

    def push(records):
        pushes.append((len(records), decoded))  # this chunk, and how much was read by now

    assert spool_replay(push, chunk=10) == 25
    assert pushes == [(10, 10), (10, 20), (5, 25)]
    assert not spool_pending()


def test_a_replay_failing_mid_file_puts_the_whole_file_back(spool, owner):
    spooled = [call_record(owner) for _ in range(5)]
    spool_write(spooled)
    pushed: list = []

    def fails_second(records):
        if pushed:
            raise redis.ConnectionError("down")
        pushed.extend(records)

    with pytest.raises(redis.ConnectionError):
        spool_replay(fails_second, chunk=2)
    assert spool_pending()
    again: list = []
    assert spool_replay(again.extend, chunk=2) == 5  # at-least-once: the first 2 again too
    assert [r["run_id"] for r in again] == [r.run_id for r in spooled]
    assert not spool_pending()


@pytest.mark.redis
def test_the_drain_task_moves_records_from_redis_into_the_database(live_redis, owner):
    batches = [[call_record(owner) for _ in range(3)] for _ in range(4)]
    for batch in batches:
        ship_records(batch)
    assert stream_length() == 4
    assert Run.objects.count() == 0
    assert drain_runs() == 12
    assert stored_run_ids() == {r.run_id for b in batches for r in b}
    assert UsageRecord.objects.count() == 12
    assert stream_length() == 0


@pytest.mark.redis
def test_a_redelivered_entry_is_stored_once(live_redis, owner):
    batch = [call_record(owner) for _ in range(3)]
    records_push(batch)
    records_push(batch)
    assert drain_runs() == 6
    assert Run.objects.count() == 3


@pytest.mark.redis
def test_entries_left_pending_by_a_dead_worker_are_reclaimed(live_redis, settings, owner):
    from tracing.shipping import runs_drain

    batch = [call_record(owner) for _ in range(2)]
    records_push(batch)
    client = sync_client(live_redis)
    stream = settings.GATEWAY_RECORD_STREAM
    client.xgroup_create(stream, GROUP, id="0")
    assert client.xreadgroup(GROUP, "dead-worker", {stream: ">"}, count=10)
    assert runs_drain(claim_idle_ms=60_000) == 0
    assert runs_drain(claim_idle_ms=0) == 2
    assert stored_run_ids() == {r.run_id for r in batch}


@pytest.mark.redis
def test_a_dead_redis_spools_and_loses_nothing_once_it_is_back(live_redis, settings, owner):
    settings.REDIS_URL = DEAD_REDIS
    during_outage = [[call_record(owner) for _ in range(5)] for _ in range(3)]
    for batch in during_outage:
        ship_records(batch)  # never raises: the gateway keeps serving
    assert spool_pending()
    assert Run.objects.count() == 0

    settings.REDIS_URL = live_redis
    after = [call_record(owner) for _ in range(2)]
    ship_records(after)
    assert not spool_pending()
    drain_runs()
    sent = {r.run_id for b in [*during_outage, after] for r in b}
    assert len(sent) == 17
    assert stored_run_ids() == sent


def test_the_replay_command_ships_the_spool_now(settings, spool, owner):
    import io

    from django.core.management import call_command

    settings.REDIS_URL = ""
    spooled = [call_record(owner) for _ in range(3)]
    spool_write(spooled)
    out = io.StringIO()
    call_command("gateway_replay_spool", stdout=out)
    assert "replayed 3 call record(s)" in out.getvalue()
    assert stored_run_ids() == {r.run_id for r in spooled}
    assert not spool_pending()


def test_the_replay_command_keeps_the_spool_while_redis_is_down(settings, spool, owner):
    from django.core.management import CommandError, call_command

    settings.REDIS_URL = DEAD_REDIS
    spool_write([call_record(owner)])
    with pytest.raises(CommandError, match="kept for later"):
        call_command("gateway_replay_spool")
    assert spool_pending()


def test_a_file_the_destination_refuses_is_quarantined_not_retried_forever(spool, owner):
    spool_write([call_record(owner)])

    def refuses(records):
        raise ValueError("bad record")

    assert spool_replay(refuses, transient=(redis.RedisError,)) == 0
    assert not spool_pending()
    assert [p.suffix for p in spool.rglob("records-*")] == [".bad"]
    assert spool_size() > 0  # still counted in the bound


@pytest.mark.redis
def test_a_drain_recreates_the_consumer_group_redis_lost(live_redis, settings, owner):
    """Redis restarted empty (or flushed, or failed over): the stream and its group are gone,
    gateways recreate the stream with their next XADD, and the drain must create the group
    again instead of failing with NOGROUP until the worker restarts."""
    first = [call_record(owner)]
    ship_records(first)
    assert drain_runs() == 1
    client = sync_client(live_redis)
    client.delete(settings.GATEWAY_RECORD_STREAM)  # what a restart without persistence leaves
    later = [call_record(owner) for _ in range(3)]
    ship_records(later)  # recreates the stream, without the group
    assert drain_runs() == 3
    assert stored_run_ids() == {r.run_id for r in first + later}
    assert stream_length() == 0


def test_a_spooled_line_for_another_database_is_set_aside_not_replayed(settings, spool, owner):
    from tracing.spool import database_identity

    settings.REDIS_URL = ""
    mine = [call_record(owner)]
    spool_write(mine)
    (own_dir,) = spool.iterdir()
    assert own_dir.name == f"db-{database_identity()}"
    stray = call_record(owner)  # a record meant for another database, in this directory
    line = b'{"_db":"0123456789abcdef",' + orjson.dumps(stray)[1:] + b"\n"
    (own_dir / "records-elsewhere-1.jsonl").write_bytes(line)
    ship_records([])  # nothing new; the next real ship replays
    ship_records([call_record(owner)])
    assert stray.run_id not in stored_run_ids()
    assert mine[0].run_id in stored_run_ids()
    (foreign,) = own_dir.glob("*.foreign")
    assert stray.run_id.encode() in foreign.read_bytes()


def test_the_record_writer_keeps_no_query_log_with_debug_on(settings, spool, owner):
    """`make run` serves with DEBUG on, where Django logs each query until a request clears
    the log; the writer serves no request, so it clears it after each transaction."""
    from django.db import DatabaseError, connection

    from tracing.writer import CHUNK, _ingest

    settings.REDIS_URL = ""
    settings.DEBUG = True
    spooled = [call_record(owner) for _ in range(30)]
    assert spool_write(spooled) == 30
    connection.queries_log.clear()
    # The writer's own step: each spooled transaction goes through its ingest.
    assert spool_replay(_ingest, chunk=CHUNK, transient=(DatabaseError,)) == 30
    assert len(connection.queries_log) == 0
    assert stored_run_ids() == {r.run_id for r in spooled}
