"""One Celery worker's ingest rate into PostgreSQL (target: >= 5,000 runs/s).

Enqueues N call records into the Redis stream exactly as the gateway does (batches of 500,
one XADD each), starts ONE real Celery worker (solo pool, one process), sends it one
`drain_runs` task and times until every record is stored (polling the usage table).

    python bench/bench_tracing_ingest.py [--records 50000] [--batch 500]

Uses DATABASE_URL (default: the dedicated database gw_h3_bench, created when missing) and
REDIS_URL (default redis://127.0.0.1:6379/3). The stream is bench:runs:<pid>, deleted after.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from types import SimpleNamespace

from _tracing_setup import ROOT, setup_django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    stream = f"bench:runs:{os.getpid()}"
    os.environ["GATEWAY_RECORD_STREAM"] = stream
    setup_django(redis=True)

    import redis
    from _tracing_setup import bench_persona
    from django.conf import settings

    from gateway_site import celery_app
    from gateway_site.lib.callrecord import CallRecord
    from tracing.models import UsageRecord
    from tracing.shipping import records_push
    from tracing.tests.factories import call_record

    org, ws, user, key = bench_persona()
    persona = SimpleNamespace(organization=org, workspace=ws, user=user, key=key)
    before = UsageRecord.objects.count()
    t0 = time.perf_counter()
    batch: list[CallRecord] = []
    for _ in range(args.records):
        batch.append(call_record(persona, request_content=None, response_content=None))
        if len(batch) == args.batch:
            records_push(batch)
            batch = []
    if batch:
        records_push(batch)
    enqueue_s = time.perf_counter() - t0

    env = {**os.environ, "GATEWAY_RECORD_STREAM": stream}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "gateway_site",
            "worker",
            "--pool",
            "solo",
            "--concurrency",
            "1",
            "--loglevel",
            "WARNING",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "-Q",
            f"bench-{os.getpid()}",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        time.sleep(3.0)  # worker boot (not timed)
        t1 = time.perf_counter()
        celery_app.send_task(
            "tracing.tasks.drain_runs", kwargs={"max_seconds": 600}, queue=f"bench-{os.getpid()}"
        )
        deadline = time.monotonic() + 600
        stored = 0
        while time.monotonic() < deadline:
            stored = UsageRecord.objects.count() - before
            if stored >= args.records:
                break
            time.sleep(0.05)
        drain_s = time.perf_counter() - t1
    finally:
        worker.terminate()
        worker.wait(30)
        redis.Redis.from_url(settings.REDIS_URL).delete(stream)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"tracing ingest: load average {load} on {os.cpu_count()} cores (figures are noisy)")
    print(
        f"tracing ingest: {args.records} records enqueued in {enqueue_s:.2f} s "
        f"({args.records / enqueue_s:,.0f}/s, batches of {args.batch})"
    )
    print(
        f"tracing ingest: one Celery worker stored {stored} runs in {drain_s:.2f} s "
        f"= {stored / drain_s:,.0f} runs/s (target >= 5,000; includes task dispatch)"
    )


if __name__ == "__main__":
    main()
