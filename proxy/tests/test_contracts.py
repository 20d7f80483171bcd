"""Gates loading and the recorder's batch drain (the contracts other parts build on)."""

from __future__ import annotations

import asyncio
import time

import pytest

from hotpath.callrecord import CallRecord
from hotpath.gates import load_gates
from proxy import record


class _Gate:
    async def before(self, call: object) -> None:
        return None

    async def after(self, call: object) -> None:
        return None


def test_it_loads_the_configured_gates(settings: object) -> None:
    settings.GATEWAY_PROXY_GATES = []  # type: ignore[attr-defined]
    assert load_gates() == []
    settings.GATEWAY_PROXY_GATES = [f"{__name__}._Gate"]  # type: ignore[attr-defined]
    assert isinstance(load_gates()[0], _Gate)


def test_it_instantiates_gates_in_order() -> None:
    path = f"{__name__}._Gate"
    gates = load_gates([path, path])
    assert len(gates) == 2 and all(isinstance(g, _Gate) for g in gates) and gates[0] is not gates[1]


def test_a_bad_gate_path_fails_loudly() -> None:
    with pytest.raises(ImportError):
        load_gates(["proxy.no_such_module.Gate"])


async def test_records_reach_the_sink_in_batches_off_the_loop(settings: object) -> None:
    settings.GATEWAY_RECORD_BATCH_SIZE = 3  # type: ignore[attr-defined]
    settings.GATEWAY_RECORD_FLUSH_SECONDS = 0.01  # type: ignore[attr-defined]
    batches: list[list[CallRecord]] = []
    import threading

    threads: set[str] = set()

    def sink(records: list[CallRecord]) -> None:
        threads.add(threading.current_thread().name)
        batches.append(list(records))

    recorder = record.Recorder(sink)
    recorder.start()
    for i in range(7):
        recorder.submit(CallRecord(run_id=str(i), trace_id=str(i), started_at=time.time()))
    for _ in range(200):
        if sum(len(b) for b in batches) == 7:
            break
        await asyncio.sleep(0.01)
    await recorder.stop()
    assert [r.run_id for b in batches for r in b] == [str(i) for i in range(7)]
    assert max(len(b) for b in batches) <= 3
    assert threading.current_thread().name not in threads


async def test_stop_flushes_what_is_queued() -> None:
    got: list[CallRecord] = []
    recorder = record.Recorder(got.extend)
    recorder.start()
    recorder.submit(CallRecord(run_id="a", trace_id="a", started_at=0.0))
    await recorder.stop()
    assert [r.run_id for r in got] == ["a"]


def test_memory_sink_is_readable_and_clearable() -> None:
    record.memory_clear()
    record.memory_sink([CallRecord(run_id="x", trace_id="x", started_at=0.0)])
    assert [r.run_id for r in record.memory_records()] == ["x"]
    record.memory_clear()
    assert record.memory_records() == []
