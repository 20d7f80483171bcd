"""Run ids: UUID version 7 (time first, then random), unique, in time order, and never shared
by two forked workers."""

from __future__ import annotations

import os
import time
import uuid

from proxy.ids import new_run_id


def test_run_ids_are_uuid7_unique_and_in_time_order() -> None:
    before = time.time_ns() // 1_000_000
    ids = [new_run_id() for _ in range(2_000)]  # several refills of the random pool
    after = time.time_ns() // 1_000_000
    assert len(set(ids)) == len(ids)
    millis = [int(run_id[:12], 16) for run_id in ids]
    assert millis == sorted(millis) and before <= millis[0] and millis[-1] <= after
    for run_id in ids[:50]:
        parsed = uuid.UUID(run_id)
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
        assert parsed.hex == run_id


def test_a_forked_worker_draws_other_ids_than_its_parent() -> None:
    new_run_id()  # the parent's pool holds unused bytes when gunicorn forks
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        try:
            os.write(write, "".join(new_run_id() for _ in range(4)).encode())
        finally:
            os._exit(0)
    os.close(write)
    child = os.read(read, 4096).decode()
    os.close(read)
    os.waitpid(pid, 0)
    parent = "".join(new_run_id() for _ in range(4))
    assert len(child) == len(parent) == 128
    # (the random part: the same millisecond may start both)
    assert {child[i + 12 : i + 32] for i in range(0, 128, 32)}.isdisjoint(
        {parent[i + 12 : i + 32] for i in range(0, 128, 32)}
    )
