"""Usage-summary latency over 1,000,000 usage rows (target: < 300 ms per summary).

Fills a dedicated PostgreSQL database (gw_h6_bench, created and migrated when missing) with
1,000,000 `tracing.models.UsageRecord` rows over the 30 days before "now" (2026-03-31 12:00 UTC),
in time order as the gateway writes them, across 10 workspaces of one organization, 100 keys,
40 users and 8 models, loaded with COPY (kept between runs, so a second run only times). It then
rolls closed days up (api.services.usage_rollup_refresh, timed: the full backfill and the
incremental refresh the beat task runs every 5 minutes) and times the management API's usage
summary end to end through the Django test client with an organization-admin key (auth,
scoping, query, serialization), and the selector alone, for four dashboard questions:

    org / last 30 days / daily by model     all 1,000,000 rows (rolled-up days + raw edges)
    org / last 30 days / weekly by user     all 1,000,000 rows
    workspace / last 7 days / hourly by key    about 23,000 raw rows
    org / last 7 days / hourly by model        about 233,000 raw rows (the worst hourly case)

    python bench/usage_summary_bench.py [--rows 1000000] [--repeat 7] [--reload]

Figures are the median and the worst of --repeat runs after one warm-up; the machine is shared
(2 cores), so they are noisy.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/gw_h6_bench"
END = dt.datetime(2026, 3, 31, 12, tzinfo=dt.UTC)  # "now"
DAYS = 30
MODELS = [
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4.1",
    "o3-mini",
    "claude-sonnet-4-5",
    "claude-haiku-4-5",
    "gemini-2.5-pro",
    "gemini-2.5-flash",
]


def setup_django() -> None:
    os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", BENCH_DATABASE_URL)
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_site.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    _create_database(os.environ["DATABASE_URL"])
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def _create_database(url: str) -> None:
    from urllib.parse import urlparse

    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def tenants() -> tuple[object, list[object], list[int], list[int], str]:
    """One organization, 10 workspaces, 40 users, 100 keys, and an org-admin key (plaintext)."""
    from orgs import services
    from orgs.models import ApiKey, Role

    org = services.organization_upsert(slug="bench6", plan="enterprise", llm_gateway_enabled=True)
    workspaces = [services.workspace_upsert(organization=org, slug=f"ws{i}") for i in range(10)]
    ws_role = Role.objects.get(builtin=True, name="WORKSPACE_ADMIN")
    users = []
    for i in range(40):
        user = services.user_get_or_create(email=f"dev{i}@bench6.test")
        services.member_set(workspace=workspaces[i % 10], user=user, role=ws_role)
        users.append(user.pk)
    keys = list(
        ApiKey.objects.filter(organization=org, name__startswith="k").values_list("pk", flat=True)
    )
    for i in range(len(keys), 100):
        created = services.api_key_create(
            organization=org, workspace=workspaces[i % 10], role=ws_role, name=f"k{i}"
        )
        keys.append(created.api_key.pk)
    ApiKey.objects.filter(organization=org, name="bench-admin").update(revoked_at=END)
    admin = services.api_key_create(
        organization=org,
        workspace=None,
        role=Role.objects.get(builtin=True, name="ORGANIZATION_ADMIN"),
        name="bench-admin",
    )
    return org, workspaces, users, keys, admin.plaintext


def load(
    rows: int, org: object, workspaces: list[object], users: list[int], keys: list[int]
) -> float:
    """COPY `rows` usage rows (deterministic pseudo-random), then ANALYZE; returns seconds."""
    from django.db import connection

    from tracing.models import UsageRecord

    table = UsageRecord._meta.db_table
    rng = random.Random(6)
    start = END - dt.timedelta(days=DAYS)
    span = DAYS * 86400
    columns = (
        "run_id, started_at, organization_id, workspace_id, key_id, user_id, provider, model, "
        "status, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, "
        "reasoning_tokens, audio_input_tokens, audio_output_tokens, cost_usd, price_missing, "
        "usage_estimated"
    )
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {table}")
        raw = cursor.cursor
        with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            buf = io.StringIO()
            for i in range(rows):
                key = keys[rng.randrange(len(keys))]
                ws = workspaces[key % len(workspaces)]
                model = MODELS[rng.randrange(len(MODELS))]
                ts = start + dt.timedelta(seconds=(i + rng.random()) * span / rows)
                tin, tout = rng.randrange(50, 20000), rng.randrange(10, 2000)
                cost = (
                    "\\N"
                    if model == "o3-mini" and i % 7 == 0
                    else f"{(tin * 2.5 + tout * 10) / 1e6:.10f}"
                )
                buf.write(
                    f"{uuid.UUID(int=rng.getrandbits(128), version=4)}\t{ts.isoformat()}\t{org.pk}\t"
                    f"{ws.pk}\t{key}\t{users[key % len(users)]}\topenai\t{model}\tsuccess\t{tin}\t{tout}\t"
                    f"{tin // 4}\t0\t0\t0\t0\t{cost}\t{'t' if cost == chr(92) + 'N' else 'f'}\tf\n"
                )
                if i % 50_000 == 49_999:
                    copy.write(buf.getvalue())
                    buf = io.StringIO()
            copy.write(buf.getvalue())
        # What autovacuum does to an insert-only table soon after a load: statistics and the
        # visibility map (without it no scan is index-only).
        cursor.execute(f"VACUUM ANALYZE {table}")
    return time.perf_counter() - t0


def timed(fn, repeat: int) -> tuple[float, float]:
    fn()  # warm-up: first-query plan and cache effects
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples), max(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--reload", action="store_true", help="reload the rows even if present")
    args = parser.parse_args()
    setup_django()

    from django.test import Client

    from api.usage import UsageQuery, usage_summary
    from tracing.models import UsageRecord, UsageRollupState
    from tracing.rollup import usage_rollup_refresh

    org, workspaces, users, keys, admin_key = tenants()
    present = UsageRecord.objects.filter(organization_id=org.pk).count()
    if args.reload or present != args.rows:
        print(f"loading {args.rows:,} usage rows with COPY ...", flush=True)
        print(f"  loaded in {load(args.rows, org, workspaces, users, keys):.1f} s")
    print(f"usage rows: {UsageRecord.objects.count():,}")
    UsageRollupState.objects.all().delete()
    t0 = time.perf_counter()
    written = usage_rollup_refresh(now=END)
    print(f"rollup, full backfill: {written:,} daily rows in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    usage_rollup_refresh(now=END)
    print(
        f"rollup, incremental refresh (2 closed days rechecked): {time.perf_counter() - t0:.2f} s"
    )

    client = Client(HTTP_X_API_KEY=admin_key)
    all_ws = {w.pk for w in workspaces}

    def case(label: str, days: int, bucket: str, group_by: str, ws: object | None = None) -> tuple:
        since = END - dt.timedelta(days=days)
        scope = f"workspace={ws.pk}" if ws else f"organization={org.pk}"
        iso = lambda value: value.isoformat().replace("+00:00", "Z")  # noqa: E731
        params = f"{scope}&since={iso(since)}&until={iso(END)}&bucket={bucket}&group_by={group_by}"
        query = UsageQuery(
            since=since,
            until=END,
            bucket=bucket,
            group_by=group_by,
            workspace_ids={ws.pk} if ws else all_ws,
            organization_id=None if ws else org.pk,
        )
        return label, params, query

    cases = [
        case("org, last 30 days, daily by model", 30, "day", "model"),
        case("org, last 30 days, weekly by user", 30, "week", "user"),
        case("workspace, last 7 days, hourly by key", 7, "hour", "key", workspaces[3]),
        case("org, last 7 days, hourly by model", 7, "hour", "model"),
    ]
    print(
        f"{'summary':40} {'calls in range':>14} {'endpoint median/max ms':>24} {'selector median/max ms':>24}"
    )
    for label, params, query in cases:

        def call(params: str = params) -> None:
            response = client.get(f"/api/v1/usage/?{params}")
            assert response.status_code == 200, response.content[:300]

        calls = usage_summary(query=query)["totals"]["calls"]
        e_med, e_max = timed(call, args.repeat)
        s_med, s_max = timed(lambda query=query: usage_summary(query=query), args.repeat)
        print(
            f"{label:40} {calls:>14,} {e_med:>15.0f} / {e_max:<6.0f} {s_med:>15.0f} / {s_max:<6.0f}"
        )
    print("target: < 300 ms per summary (median, endpoint); shared 2-core machine, noisy figures")


if __name__ == "__main__":
    main()
