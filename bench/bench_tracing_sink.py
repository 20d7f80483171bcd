"""What the recording sink costs a gateway process: CPU per call record in ship_records.

The proxy's request path only does a put_nowait on its queue; ship_records runs in the
recorder's worker thread, but it shares the process (and the GIL) with the event loop, so its
CPU per record is what recording can take from request handling. Measured for the Redis
stream (the production path) and for the disk spool (Redis down).

    python bench/bench_tracing_sink.py [--records 20000] [--batch 500]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from types import SimpleNamespace

from _tracing_setup import bench_persona, setup_django


def measure(records: list, batch: int) -> tuple[float, float]:
    from tracing.shipping import ship_records

    wall0, cpu0 = time.perf_counter(), time.thread_time()
    for start in range(0, len(records), batch):
        ship_records(records[start : start + batch])
    wall, cpu = time.perf_counter() - wall0, time.thread_time() - cpu0
    return wall * 1e6 / len(records), cpu * 1e6 / len(records)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    stream = f"bench:sink:{os.getpid()}"
    os.environ["GATEWAY_RECORD_STREAM"] = stream
    setup_django(redis=True)
    import redis
    from django.conf import settings

    from tracing.tests.factories import call_record

    org, ws, user, key = bench_persona()
    persona = SimpleNamespace(organization=org, workspace=ws, user=user, key=key)
    records = [
        call_record(persona, request_content=None, response_content=None)
        for _ in range(args.records)
    ]
    live = settings.REDIS_URL
    try:
        wall, cpu = measure(records, args.batch)
        print(
            f"tracing sink: Redis stream  {wall:6.1f} us wall, {cpu:6.1f} us CPU per record "
            f"(batches of {args.batch})"
        )
        with tempfile.TemporaryDirectory() as spool:
            settings.GATEWAY_SPOOL_DIR = spool
            settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens: spool to disk
            wall, cpu = measure(records, args.batch)
            print(
                f"tracing sink: disk spool    {wall:6.1f} us wall, {cpu:6.1f} us CPU per record "
                f"(Redis down; fsync per batch)"
            )
    finally:
        redis.Redis.from_url(live).delete(stream)


if __name__ == "__main__":
    main()
