"""Added latency of the rate-limit check and of the model-access check, each printed beside a
floor measured in the same run (figures on a shared machine are noisy; ratios travel better).

- rate limits: the gate's before() for a call under four matching policies (organization,
  workspace, API key, user; a requests and a tokens limit per minute each: eight counters)
  against real Redis (db 5), versus the same call under no policy; beside it, in the same
  rounds, one Redis PING (no check can cost less than one round trip) and the spend gate under
  four spend policies (the check rate limits mirror).
- model access: the gate's before() for a call whose workspace tier holds two policies of ten
  patterns each, versus an empty awaited coroutine (the floor of any gate call).

    python bench/ratelimit_latency.py [--calls 3000] [--db]

--db measures the embedded mode's rate limits instead (database counters, PostgreSQL
gw_h15_bench).
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
DATABASE_URL = "postgres://postgres@127.0.0.1:5432/gw_h15_bench"
REDIS_URL = "redis://127.0.0.1:6379/5"


def setup(*, use_redis: bool) -> None:
    os.environ.update(DATABASE_URL=DATABASE_URL, LOG_LEVEL="WARNING")
    os.environ["REDIS_URL"] = REDIS_URL if use_redis else ""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_site.settings")
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    from _tracing_setup import _create_database

    _create_database(DATABASE_URL)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def world() -> tuple[object, object]:
    """A key under four rate-limit policies and two model-access policies, and a key of
    another organization under none."""
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
    return key, free


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


async def interleaved(key: object, free: object, calls: int, *, use_redis: bool) -> dict:
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
    times: dict[str, list[float]] = {"rl_on": [], "rl_off": [], "spend_on": [], "ping": []}

    async def timed(name: str, gate: object, k: object) -> None:
        c = make_call(k)
        t0 = time.perf_counter()
        await gate.before(c)  # type: ignore[attr-defined]
        elapsed = (time.perf_counter() - t0) * 1000
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
        await timed("rl_off", rl, free)
    return times


async def run(key: object, free: object, calls: int, *, use_redis: bool) -> None:
    from spend_check_latency import pct

    from policies.modelaccess.gate import ModelAccessGate

    times = await interleaved(key, free, calls, use_redis=use_redis)
    on, off, spend_on, floor = times["rl_on"], times["rl_off"], times["spend_on"], times["ping"]
    mode = "Redis script" if use_redis else "database counters (PostgreSQL)"
    print(f"gates' before(), {calls} rounds (each case once per round), {mode}")
    print("case                                 p50_ms  p95_ms  p99_ms")
    rows = [
        ("rate limits: 4 policies, 8 counters", on),
        ("rate limits: no policy", off),
        ("spend: 4 policies (same run)", spend_on),
    ]
    if use_redis:
        rows.append(("floor: Redis PING", floor))
    for name, values in rows:
        print(f"{name:<36} {pct(values, 50):6.3f}  {pct(values, 95):6.3f}  {pct(values, 99):6.3f}")
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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--db", action="store_true", help="embedded mode: database counters")
    args = parser.parse_args()
    setup(use_redis=not args.db)
    key, free = world()
    asyncio.run(run(key, free, args.calls, use_redis=not args.db))
    return 0


if __name__ == "__main__":
    sys.exit(main())
