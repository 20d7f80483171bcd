"""Added latency of the rate-limit check and of the model-access check, each printed beside a
floor measured in the same run (figures on a shared machine are noisy; ratios travel better).

- rate limits: the gate's before() for a call under four matching policies (organization,
  workspace, API key, user; a requests and a tokens limit per minute each: eight counters)
  against real Redis (db 5), versus the same call under no policy; beside it, in the same
  rounds, one Redis PING (no check can cost less than one round trip) and the spend gate under
  four spend policies (the check rate limits mirror).
- model access: the gate's before() for a call whose workspace tier holds two policies of ten
  patterns each, versus an empty awaited coroutine (the floor of any gate call).

    python bench/ratelimit_latency.py [--calls 3000] [--db] [--database-url URL] [--redis-url URL]
        [--processes 4 --per-process 150 --limit 200]

Then the exactness check: several processes (each with its own gate, as gateway workers are)
hammer one limit of `--limit` requests per minute at once, `--per-process` concurrent calls
each; the admissions summed over the processes must equal the limit exactly (no overshoot, no
lost slot), with Redis or the database counters.

--db measures the embedded mode's rate limits instead: database counters on PostgreSQL
(gw_h15_bench by default) or on SQLite (`--database-url sqlite:////tmp/bench.sqlite3`).
--database-url and --redis-url (or BENCH_DATABASE_URL, BENCH_REDIS_URL) pick another database
and Redis database.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/gw_h15_bench"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")


def setup(*, use_redis: bool) -> None:
    os.environ.update(DATABASE_URL=DATABASE_URL, LOG_LEVEL="WARNING")
    os.environ["REDIS_URL"] = REDIS_URL if use_redis else ""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_site.settings")
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    from _tracing_setup import _create_database

    if not DATABASE_URL.startswith("sqlite"):
        _create_database(DATABASE_URL)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def world() -> tuple[object, object, object]:
    """A key under four rate-limit policies and two model-access policies, a key of another
    organization under none, and one of a third under one policy of one counter."""
    from orgs import services
    from orgs.models import Role
    from policies.modelaccess.services import model_access_upsert
    from policies.ratelimit.services import rate_limit_upsert

    tag = uuid.uuid4().hex[:6]
    role = Role.objects.get(builtin=True, name="WORKSPACE_ADMIN")
    org = services.organization_upsert(slug=f"rl-{tag}", llm_gateway_enabled=True)
    ws = services.workspace_upsert(organization=org, slug="main")
    user = services.user_get_or_create(email=f"rl-{tag}@bench.test")
    services.member_set(workspace=ws, user=user, role=role)
    key = services.api_key_create(organization=org, workspace=ws, role=role, user=user).api_key
    free_org = services.organization_upsert(slug=f"free-{tag}", llm_gateway_enabled=True)
    free_ws = services.workspace_upsert(organization=free_org, slug="main")
    free = services.api_key_create(organization=free_org, workspace=free_ws, role=role).api_key
    big = {"minute": (10**9, 10**12)}
    one_org = services.organization_upsert(slug=f"one-{tag}", llm_gateway_enabled=True)
    one_ws = services.workspace_upsert(organization=one_org, slug="main")
    one = services.api_key_create(organization=one_org, workspace=one_ws, role=role).api_key
    rate_limit_upsert(
        organization=one_org, name="one", scope="organization", limits={"minute": (10**9, None)}
    )
    subjects = (
        ("org", "organization", {}),
        ("ws", "workspace", {"workspace": ws}),
        ("key", "api_key", {"api_key": key}),
        ("user", "user", {"user": user}),
    )
    for name, scope, subject in subjects:
        rate_limit_upsert(organization=org, name=name, scope=scope, limits=big, **subject)
    from decimal import Decimal

    from policies.spend.services import spend_policy_upsert

    for name, scope, subject in subjects:
        spend_policy_upsert(
            organization=org,
            name=name,
            scope=scope,
            windows={"daily": Decimal(10**6)},
            **subject,  # type: ignore[arg-type]
        )
    for i in range(2):
        patterns = ",".join([f"gpt-{n}.{i}*" for n in range(9)] + ["gpt-4o*"])
        model_access_upsert(
            organization=org,
            name=f"models {i}",
            scope="workspace",
            workspace=ws,
            models={"openai": patterns, "anthropic": "claude-*-haiku-*"},
        )
    return key, free, one


async def gate_times(gate: object, key: object, calls: int, *, settle: bool) -> list[float]:
    """before() times in ms (after() runs untimed, as it does once the answer is sent)."""
    from spend_check_latency import make_call

    from pricing.table import Usage

    out = []
    for i in range(calls + 50):
        c = make_call(key)
        t0 = time.perf_counter()
        await gate.before(c)  # type: ignore[attr-defined]
        elapsed = (time.perf_counter() - t0) * 1000
        if settle:
            c.sent_body = b"{}"  # type: ignore[attr-defined]
            c.usage = Usage(input_tokens=10, output_tokens=10)  # type: ignore[attr-defined]
            await gate.after(c)  # type: ignore[attr-defined]
        if i >= 50:  # warm-up: snapshot, script load, connections
            out.append(elapsed)
    return out


async def ping_times(calls: int) -> list[float]:
    from policies.counters import redis_for_loop

    client = redis_for_loop(REDIS_URL)
    out = []
    for i in range(calls + 50):
        t0 = time.perf_counter()
        await client.ping()
        if i >= 50:
            out.append((time.perf_counter() - t0) * 1000)
    return out


async def noop_times(calls: int) -> list[float]:
    async def noop(_: object) -> None:
        return None

    out = []
    for _ in range(calls):
        t0 = time.perf_counter()
        await noop(None)
        out.append((time.perf_counter() - t0) * 1000)
    return out


async def interleaved(
    key: object, free: object, one: object, calls: int, *, use_redis: bool
) -> dict:
    """Per round, in turn: a PING (the floor), the spend gate's before() under four spend
    policies (the check this one mirrors), and the rate-limit gate's before() for the key under
    four policies and for the key under none, so the machine's drift hits every case alike."""
    from spend_check_latency import make_call

    from policies.counters import redis_for_loop
    from policies.ratelimit.gate import RateLimitGate
    from policies.spend.gate import SpendGate
    from pricing.table import Usage

    rl, spend = RateLimitGate(), SpendGate()
    client = redis_for_loop(REDIS_URL) if use_redis else None
    times: dict[str, list[float]] = {
        "rl_on": [],
        "rl_one": [],
        "rl_off": [],
        "spend_on": [],
        "ping": [],
        "rl_on_cpu": [],
        "rl_one_cpu": [],
        "spend_on_cpu": [],
    }

    async def timed(name: str, gate: object, k: object) -> None:
        c = make_call(k)
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        await gate.before(c)  # type: ignore[attr-defined]
        elapsed = (time.perf_counter() - t0) * 1000
        cpu = (time.process_time() - cpu0) * 1000  # this process's CPU: the client's work
        if warm and name + "_cpu" in times:
            times[name + "_cpu"].append(cpu)
        c.sent_body = b"{}"  # type: ignore[attr-defined]
        c.usage = Usage(input_tokens=10, output_tokens=10)  # type: ignore[attr-defined]
        c.cost_usd = 0.00001  # type: ignore[attr-defined]
        await gate.after(c)  # type: ignore[attr-defined]
        if warm:
            times[name].append(elapsed)

    for i in range(calls + 50):
        warm = i >= 50  # warm-up: snapshots, script loads, connections
        if client is not None:
            t0 = time.perf_counter()
            await client.ping()
            if warm:
                times["ping"].append((time.perf_counter() - t0) * 1000)
        await timed("spend_on", spend, key)
        await timed("rl_on", rl, key)
        await timed("rl_one", rl, one)
        await timed("rl_off", rl, free)
    return times


def mode_name(*, use_redis: bool) -> str:
    if use_redis:
        return "Redis script"
    engine = "SQLite" if DATABASE_URL.startswith("sqlite") else "PostgreSQL"
    return f"database counters ({engine})"


async def run(key: object, free: object, one: object, calls: int, *, use_redis: bool) -> None:
    from spend_check_latency import pct

    from policies.modelaccess.gate import ModelAccessGate

    times = await interleaved(key, free, one, calls, use_redis=use_redis)
    on, off, spend_on, floor = times["rl_on"], times["rl_off"], times["spend_on"], times["ping"]
    mode = mode_name(use_redis=use_redis)
    print(f"load average: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    print(f"gates' before(), {calls} rounds (each case once per round), {mode}")
    print("case                                 p50_ms  p95_ms  p99_ms")
    rows = [
        ("rate limits: 4 policies, 8 counters", on),
        ("rate limits: 1 policy, 1 counter", times["rl_one"]),
        ("rate limits: no policy", off),
        ("spend: 4 policies (same run)", spend_on),
    ]
    if use_redis:
        rows.append(("floor: Redis PING", floor))
    for name, values in rows:
        print(f"{name:<36} {pct(values, 50):6.3f}  {pct(values, 95):6.3f}  {pct(values, 99):6.3f}")
    print(
        f"client CPU per check (this process, p50): rate limits {pct(times['rl_on_cpu'], 50):.3f} ms"
        f" (8 counters), {pct(times['rl_one_cpu'], 50):.3f} ms (1 counter), spend {pct(times['spend_on_cpu'], 50):.3f} ms"
    )
    added = pct(on, 50) - pct(off, 50)
    line = f"added p50 of the rate-limit check: {added:.3f} ms"
    line += f" = {added / pct(spend_on, 50):.2f} x the spend check"
    if use_redis:
        line += f" = {added / pct(floor, 50):.2f} x one Redis PING, in this run"
    print(line)

    ma = ModelAccessGate()
    ma_on = await gate_times(ma, key, calls, settle=False)
    ma_off = await gate_times(ma, free, calls, settle=False)
    noop = await noop_times(calls)
    print(f"\nmodel-access gate before(), {calls} calls (2 policies x 10 patterns on the tier)")
    print("case                         p50_us  p95_us  p99_us")
    for name, values in (
        ("2 policies", ma_on),
        ("no policy", ma_off),
        ("floor: empty await", noop),
    ):
        us = [v * 1000 for v in values]
        print(f"{name:<28} {pct(us, 50):6.2f}  {pct(us, 95):6.2f}  {pct(us, 99):6.2f}")
    added_us = (pct(ma_on, 50) - pct(ma_off, 50)) * 1000
    print(
        f"model access: {pct(ma_on, 50) * 1000:.2f} us p50 per call "
        f"({pct(ma_on, 50) / pct(noop, 50):.1f} x the empty-await floor), "
        f"{added_us:.2f} us over no policy"
    )


def _exact_worker(
    urls: tuple[str, str], key_id: int, calls: int, barrier: object, results: object
) -> None:
    """One process of the exactness check: its own gate, `calls` calls at once after every
    process is ready; puts (admitted, refused, errors) on `results`. `urls`: the database's
    and Redis's ('' for database counters)."""
    os.environ.update(DATABASE_URL=urls[0], REDIS_URL=urls[1], LOG_LEVEL="WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_site.settings")
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    import django

    django.setup()
    from spend_check_latency import make_call

    from hotpath.errors import PolicyBlocked
    from orgs.models import ApiKey
    from policies.ratelimit.gate import RateLimitGate
    from pricing.table import Usage

    key = ApiKey.objects.select_related("organization").get(pk=key_id)

    async def go() -> tuple[int, int, int]:
        gate = RateLimitGate()
        warm = make_call(key)  # the snapshot and the connections, before the start line
        warm.endpoint = "Models"
        await gate.before(warm)
        await asyncio.to_thread(barrier.wait)  # type: ignore[attr-defined]

        async def one() -> str:
            c = make_call(key)
            try:
                await gate.before(c)
            except PolicyBlocked as blocked:
                return "refused" if blocked.status == 429 else "error"
            c.sent_body = b"{}"  # type: ignore[attr-defined]
            c.usage = Usage(input_tokens=1, output_tokens=1)  # type: ignore[attr-defined]
            await gate.after(c)
            return "admitted"

        outcomes = await asyncio.gather(*(one() for _ in range(calls)), return_exceptions=True)
        named = [o if isinstance(o, str) else "error" for o in outcomes]
        return named.count("admitted"), named.count("refused"), named.count("error")

    results.put(asyncio.run(go()))  # type: ignore[attr-defined]


def exactness(*, use_redis: bool, processes: int, per_process: int, limit: int) -> bool:
    """Several processes at one limit at once: admitted over all of them == limit."""
    import multiprocessing

    from orgs import services
    from orgs.models import Role
    from policies.ratelimit.services import rate_limit_upsert

    tag = uuid.uuid4().hex[:6]
    role = Role.objects.get(builtin=True, name="WORKSPACE_ADMIN")
    org = services.organization_upsert(slug=f"exact-{tag}", llm_gateway_enabled=True)
    ws = services.workspace_upsert(organization=org, slug="main")
    key = services.api_key_create(organization=org, workspace=ws, role=role).api_key
    rate_limit_upsert(
        organization=org,
        name="exact",
        scope="workspace",
        workspace=ws,
        limits={"minute": (limit, None)},
    )
    urls = (DATABASE_URL, REDIS_URL if use_redis else "")
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    results = context.Queue()
    workers = [
        context.Process(target=_exact_worker, args=(urls, key.pk, per_process, barrier, results))
        for _ in range(processes)
    ]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for w in workers:
        w.start()
    outcomes = [results.get(timeout=300) for _ in workers]
    for w in workers:
        w.join(60)
    admitted = sum(o[0] for o in outcomes)
    refused = sum(o[1] for o in outcomes)
    errors = sum(o[2] for o in outcomes)
    ok = admitted == min(limit, processes * per_process) and errors == 0
    mode = mode_name(use_redis=use_redis)
    print(
        f"\nexactness, {mode}: {processes} processes x {per_process} calls at once against "
        f"{limit} requests/minute: admitted {admitted} (per process "
        f"{', '.join(str(o[0]) for o in outcomes)}), refused {refused}, errors {errors} -> "
        f"{'EXACT' if ok else 'NOT EXACT'} ({time.perf_counter() - wall0:.1f} s wall, "
        f"parent CPU {time.process_time() - cpu0:.2f} s)"
    )
    return ok


def main() -> int:
    global DATABASE_URL, REDIS_URL
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--db", action="store_true", help="embedded mode: database counters")
    parser.add_argument("--database-url", default=DATABASE_URL)
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--per-process", type=int, default=150)
    parser.add_argument("--limit", type=int, default=200)
    args = parser.parse_args()
    DATABASE_URL, REDIS_URL = args.database_url, args.redis_url
    setup(use_redis=not args.db)
    key, free, one = world()
    asyncio.run(run(key, free, one, args.calls, use_redis=not args.db))
    exact = exactness(
        use_redis=not args.db,
        processes=args.processes,
        per_process=args.per_process,
        limit=args.limit,
    )
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
