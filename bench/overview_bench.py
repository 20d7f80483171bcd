"""Render time of the gateway overview page over 1,000,000 usage rows (target: < 300 ms p50).

Uses the data set of bench/usage_summary_bench.py (1,000,000 `UsageRecord` rows over the 30
days before 2026-03-31 12:00 UTC, 10 workspaces, 100 keys, 40 users, 8 models, loaded with COPY
into a dedicated PostgreSQL database, kept between runs), rolls closed days up as the beat task
does, adds 300 blocked and redacted runs for the policy-events feed, then times the whole page
through the Django test client as an organization admin (session, scoping, checklist, the
30-day charts from the rollup plus today's raw rows, the 48-hour chart from the hourly run
totals (this data set's usage rows have no runs behind them, so that chart's figure comes from
the runs of bench/bench_partitions.py: docs/architecture.md), the
three top-10 lists, the events, the template) for each grouping, and the CSV download. The
closed days' sums are cached until the rollup moves (every 5 minutes at most); each grouping is
also timed with that cache emptied first, as the first render after a rollup refresh.

The floor, measured in the same run: the admin's index page for the same user (session,
permissions, the admin's template; no usage query). The ratio says what the overview costs
beyond any admin page on this machine at this moment.

    python bench/overview_bench.py [--rows 1000000] [--repeat 11] [--reload]
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> ...  (default gw_h18_bench)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/gw_h18_bench")
os.environ.setdefault("DEBUG", "True")  # the development keys; a handful of queries per page

from bench import usage_summary_bench as data  # noqa: E402


def p50(fn, repeat: int) -> tuple[float, float]:
    fn()  # warm-up
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples), max(samples)


def seed_events(org, workspaces, keys) -> None:
    from tracing.models import Run
    from tracing.services import runs_ingest
    from tracing.tests.factories import call_record

    if Run.objects.filter(organization_id=org.pk).count() >= 300:
        return
    start = data.END.timestamp() - 86_400
    records = []
    for i in range(300):
        ws = workspaces[i % len(workspaces)]
        common = {
            "organization_id": org.pk,
            "workspace_id": ws.pk,
            "key_id": keys[i % len(keys)],
            "started_at": start + i * 240,
        }
        if i % 2:
            records.append(call_record(redaction_counts={"EMAIL_ADDRESS": 1}, **common))
        else:
            records.append(
                call_record(
                    status="blocked",
                    http_status=402,
                    error="request blocked by gateway policies: bench cap",
                    policy_results={"violated": [{"id": 1, "name": "bench cap"}]},
                    cost_usd=None,
                    **common,
                )
            )
    runs_ingest(records)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--reload", action="store_true", help="reload the rows even if present")
    args = parser.parse_args()
    data.setup_django()

    import time_machine
    from django.core.cache import cache
    from django.test import Client
    from django.urls import reverse

    from orgs import services
    from orgs.models import Role
    from tracing.models import UsageRecord, UsageRollupState
    from tracing.rollup import usage_rollup_refresh

    org, workspaces, users, keys, _ = data.tenants()
    present = UsageRecord.objects.filter(organization_id=org.pk).count()
    if args.reload or present < args.rows:
        print(f"loading {args.rows:,} usage rows with COPY ...", flush=True)
        print(f"  loaded in {data.load(args.rows, org, workspaces, users, keys):.1f} s")
    seed_events(org, workspaces, keys)
    print(f"usage rows: {UsageRecord.objects.filter(organization_id=org.pk).count():,}")
    UsageRollupState.objects.all().delete()
    t0 = time.perf_counter()
    written = usage_rollup_refresh(now=data.END)
    print(f"rollup: {written:,} daily rows in {time.perf_counter() - t0:.1f} s")

    admin = services.user_get_or_create(email="overview-admin@bench6.test")
    services.org_member_set(
        organization=org, user=admin, role=Role.objects.get(builtin=True, name="ORGANIZATION_ADMIN")
    )
    client = Client()
    client.force_login(admin)
    page = reverse("overview:organization", args=[org.pk])

    def get(url: str) -> None:
        response = client.get(url)
        assert response.status_code == 200, response.content[:300]

    with time_machine.travel(data.END, tick=True):
        floor, floor_max = p50(lambda: get(reverse("admin:index")), args.repeat)
        print(f"{'page':52} {'p50 ms':>8} {'max ms':>8} {'ratio to floor':>15}")
        print(f"{'floor: admin index (same user)':52} {floor:>8.0f} {floor_max:>8.0f} {1:>15.1f}")
        for label, url in [
            *[
                (f"overview, stacked by {g}", f"{page}?group={g}")
                for g in ("workspace", "model", "key", "user")
            ],
            ("overview CSV, by model", f"{page}?group=model&format=csv"),
        ]:
            med, worst = p50(lambda url=url: get(url), args.repeat)
            print(f"{label:52} {med:>8.0f} {worst:>8.0f} {med / floor:>15.1f}")
            if "format=csv" in url:
                continue

            def cold(url: str = url) -> None:
                cache.clear()  # as right after a rollup refresh: the closed days are read again
                get(url)

            med, worst = p50(cold, max(args.repeat // 2, 3))
            label = label.replace("overview,", "  first render after a rollup,")
            print(f"{label:52} {med:>8.0f} {worst:>8.0f} {med / floor:>15.1f}")
    print("target: < 300 ms p50 per page; shared 2-core machine, noisy figures")


if __name__ == "__main__":
    main()
