"""Snapshots: served from memory, reloaded (and waited for) once their topic changed, the last
good one kept when the database cannot be read."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from hotpath import changes
from hotpath.snapshot import Snapshot, SnapshotUnavailable

# The loads here read no table, but a reload tidies the thread's database connection as real
# loads need (close_old_connections), so database access must be allowed.
pytestmark = pytest.mark.django_db


class Source:
    """A stand-in for the database behind a snapshot: counts loads, can fail."""

    def __init__(self) -> None:
        self.loads = itertools.count(1)
        self.fail = False
        self.during_load: Any = None

    def __call__(self) -> dict[str, int]:
        if self.fail:
            raise OSError("database unavailable")
        n = next(self.loads)
        if self.during_load is not None:
            self.during_load()
            self.during_load = None
        return {"load": n}


@pytest.fixture
def signal(settings: Any, tmp_path: Any) -> changes.ChangeSignal:
    """A change signal of the test's own: its own file, no remote subscription."""
    settings.GATEWAY_CHANGES_FILE = str(tmp_path / "changes")
    settings.REDIS_URL = ""
    return changes.ChangeSignal()


async def test_it_serves_from_memory_until_its_topic_changes(signal: changes.ChangeSignal) -> None:
    source = Source()
    snap = Snapshot("things", ("routes",), source, refresh_seconds=3600, signal=signal)
    assert snap.current() is None  # never loaded: callers must await get()
    first = await snap.get()
    assert first == {"load": 1} and snap.current() is first and await snap.get() is first
    signal.committed("ratelimit")  # another topic: nothing to do
    assert snap.current() is first
    signal.committed("routes")
    assert snap.current() is None  # a call now waits for the reload
    assert await snap.get() == {"load": 2}


async def test_a_change_during_a_load_triggers_another_load(signal: changes.ChangeSignal) -> None:
    source = Source()
    snap = Snapshot("things", ("routes",), source, refresh_seconds=3600, signal=signal)
    await snap.get()
    signal.committed("routes")
    source.during_load = lambda: signal.committed("routes")  # committed while the load reads
    assert await snap.get() == {"load": 3}


async def test_concurrent_callers_share_one_reload(signal: changes.ChangeSignal) -> None:
    source = Source()
    snap = Snapshot("things", ("routes",), source, refresh_seconds=3600, signal=signal)
    await snap.get()
    signal.committed("routes")
    results = await asyncio.gather(*(snap.get() for _ in range(20)))
    assert {r["load"] for r in results} == {2}


async def test_it_keeps_the_last_good_snapshot_when_the_database_fails(
    signal: changes.ChangeSignal,
) -> None:
    source = Source()
    snap = Snapshot("things", ("routes",), source, refresh_seconds=3600, signal=signal)
    good = await snap.get()
    source.fail = True
    signal.committed("routes")
    assert await snap.get() is good  # served, not a 503
    source.fail = False
    snap._failed_at = float("-inf")  # the retry delay has passed
    assert await snap.get() == {"load": 2}


async def test_without_any_snapshot_a_failed_load_is_a_503_not_an_empty_table(
    signal: changes.ChangeSignal,
) -> None:
    source = Source()
    source.fail = True
    snap = Snapshot("keys", ("keys",), source, signal=signal)
    with pytest.raises(SnapshotUnavailable) as caught:
        await snap.get()
    assert caught.value.status == 503


async def test_an_old_snapshot_is_refreshed_in_the_background_while_it_serves(
    signal: changes.ChangeSignal,
) -> None:
    source = Source()
    snap = Snapshot("things", ("routes",), source, refresh_seconds=0.0, signal=signal)
    first = await snap.get()
    assert snap.current() is first  # served at once: no change was signalled
    for _ in range(200):
        await asyncio.sleep(0.01)
        if snap.value != first:
            break
    assert snap.value["load"] >= 2
