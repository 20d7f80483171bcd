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
from pathlib import Path
from types import SimpleNamespace

from _tracing_setup import ROOT, setup_django


def _cpu_seconds(pid: int) -> float:
    """user + system CPU time of a local process (Linux /proc), in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _backend_pid(app_name: str) -> int | None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s LIMIT 1", [app_name]
        )
        row = cursor.fetchone()
    return row[0] if row else None


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
    from hotpath.callrecord import CallRecord
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

    app_name = f"gw-bench-ingest-{os.getpid()}"
    sep = "&" if "?" in os.environ["DATABASE_URL"] else "?"
    env = {
        **os.environ,
        "GATEWAY_RECORD_STREAM": stream,
        "DATABASE_URL": f"{os.environ['DATABASE_URL']}{sep}application_name={app_name}",
    }
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
        backend = None
        cpu_start: dict[int, float] = {worker.pid: _cpu_seconds(worker.pid)}
        cpu_last = dict(cpu_start)
        while time.monotonic() < deadline:
            stored = UsageRecord.objects.count() - before
            if backend is None:
                backend = _backend_pid(app_name)
                if backend is not None:
                    cpu_start[backend] = _cpu_seconds(backend)
            # The backend exits when the task closes its connection: keep the last reading.
            cpu_last.update({pid: _cpu_seconds(pid) or cpu_last.get(pid, 0.0) for pid in cpu_start})
            if stored >= args.records:
                break
            time.sleep(0.05)
        drain_s = time.perf_counter() - t1
        cpu = {pid: cpu_last[pid] - start for pid, start in cpu_start.items()}
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
    worker_cpu = cpu.get(worker.pid, 0.0)
    backend_cpu = cpu.get(backend or -1, 0.0)
    busy = worker_cpu + backend_cpu
    if busy:
        print(
            f"tracing ingest: CPU used: worker {worker_cpu:.2f} s, its PostgreSQL backend "
            f"{backend_cpu:.2f} s; the drain is sequential (the worker waits on the database), "
            f"so uncontended it would run at about {stored / busy:,.0f} runs/s"
        )


if __name__ == "__main__":
    main()
