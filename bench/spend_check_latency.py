"""Added latency of the spend check: the spend gate's before() and after() for a call that falls
under four policies (organization, workspace, API key, user), against real Redis (db 4), versus
the same call under no policy. A focused microbenchmark of the gate (the proxy's own overhead is
measured by bench/proxy_bench.py).

    python bench/spend_check_latency.py [--calls 3000] [--windows 1] [--db] [--proxy]

--db measures the embedded mode instead (no Redis: database counters, PostgreSQL gw_h4_bench).
--proxy measures through a real gateway instead (gunicorn on 127.0.0.1:18420, fake provider on
18421): the same request with the key under four policies and with the key under none.
Prints p50/p95/p99 in milliseconds and the added p50. Figures are noisy on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE_URL = "postgres://postgres@127.0.0.1:5432/gw_h4_bench"
REDIS_URL = "redis://127.0.0.1:6379/4"
GATEWAY_PORT, FAKE_PORT = 18420, 18421


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


def world(windows: list[str]) -> tuple[object, object, str, str]:
    """A key under four policies, a key of another organization under none, and their
    plaintexts; both workspaces' OpenAI secret points at the fake provider of --proxy."""
    from orgs import services
    from orgs.models import Role

    tag = uuid.uuid4().hex[:6]
    role = Role.objects.get(builtin=True, name="WORKSPACE_ADMIN")
    org = services.organization_upsert(slug=f"lat-{tag}", llm_gateway_enabled=True)
    ws = services.workspace_upsert(organization=org, slug="main")
    user = services.user_get_or_create(email=f"lat-{tag}@bench.test")
    services.member_set(workspace=ws, user=user, role=role)
    created = services.api_key_create(organization=org, workspace=ws, role=role, user=user)
    free_org = services.organization_upsert(slug=f"free-{tag}", llm_gateway_enabled=True)
    free_ws = services.workspace_upsert(organization=free_org, slug="main")
    free = services.api_key_create(organization=free_org, workspace=free_ws, role=role)
    key, free_key = created.api_key, free.api_key
    from policies.spend.services import spend_policy_upsert
    from secrets_vault.services import secret_set

    for workspace in (ws, free_ws):
        secret_set(
            workspace=workspace,
            name="OPENAI_API_KEY",
            value="sk-fake-0000",
            base_url=f"http://127.0.0.1:{FAKE_PORT}",
        )

    big = {w: Decimal(10**6) for w in windows}
    spend_policy_upsert(organization=org, name="org", scope="organization", windows=big)
    spend_policy_upsert(organization=org, name="ws", scope="workspace", workspace=ws, windows=big)
    spend_policy_upsert(organization=org, name="key", scope="api_key", api_key=key, windows=big)
    spend_policy_upsert(organization=org, name="user", scope="user", user=user, windows=big)
    return key, free_key, created.plaintext, free.plaintext


def make_call(key: object) -> object:
    from hotpath.callrecord import CallRecord
    from hotpath.context import RequestContext
    from hotpath.gates import ProxyCall
    from pricing.table import Price

    price = Price(
        model="gpt-4o-mini",
        provider="openai",
        input=0.15,
        output=0.6,
        cache_read=0.075,
        cache_write=0.15,
    )
    ctx = RequestContext(
        organization_id=key.organization_id,
        workspace_id=key.workspace_id,
        key_id=key.pk,  # type: ignore[attr-defined]
        key_prefix="gw_sk_bench",
        key_kind="service",
        user_id=key.user_id,  # type: ignore[attr-defined]
        permissions=frozenset(),
        trace_content=False,
    )
    body = {
        "model": "gpt-4o-mini",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": "hello " * 50}],
    }
    record = CallRecord(run_id=uuid.uuid4().hex, trace_id="t", started_at=time.time())
    return ProxyCall(
        ctx=ctx,
        dialect="openai",
        endpoint="ChatCompletions",
        model="gpt-4o-mini",
        body=body,
        stream=False,
        record=record,
        price=price,
    )


async def measure(key: object, calls: int) -> tuple[list[float], list[float]]:
    """(before() times, after() times) in ms: before() is what a call waits for; after() runs
    once the response has been sent."""
    from policies.spend.gate import SpendGate

    gate = SpendGate()
    for _ in range(50):  # warm-up: snapshot, script load, connections
        c = make_call(key)
        await gate.before(c)  # type: ignore[arg-type]
        c.cost_usd = 0.0001  # type: ignore[attr-defined]
        await gate.after(c)  # type: ignore[arg-type]
    before, after = [], []
    for _ in range(calls):
        c = make_call(key)
        t0 = time.perf_counter()
        await gate.before(c)  # type: ignore[arg-type]
        t1 = time.perf_counter()
        c.cost_usd = 0.0001  # type: ignore[attr-defined]
        await gate.after(c)  # type: ignore[arg-type]
        before.append((t1 - t0) * 1000)
        after.append((time.perf_counter() - t1) * 1000)
    return before, after


async def measure_proxy(on_key: str, off_key: str, calls: int) -> tuple[list[float], list[float]]:
    """Sequential calls through a real gateway (gunicorn, one uvicorn worker), alternating the
    key under four policies and the key under none, so drift hits both alike."""
    import aiohttp

    body = {
        "model": "gpt-4o-mini",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}],
    }
    url = f"http://127.0.0.1:{GATEWAY_PORT}/openai/v1/chat/completions"
    on, off = [], []
    async with aiohttp.ClientSession() as session:
        for i in range(calls * 2 + 100):
            key, sink = (on_key, on) if i % 2 else (off_key, off)
            t0 = time.perf_counter()
            async with session.post(
                url, json=body, headers={"authorization": f"Bearer {key}"}
            ) as r:
                await r.read()
                if r.status != 200:
                    raise SystemExit(f"gateway answered {r.status}")
            if i >= 100:  # warm-up
                sink.append((time.perf_counter() - t0) * 1000)
    return on, off


def run_proxy(on_key: str, off_key: str, calls: int) -> None:
    import subprocess

    env = {**os.environ, "DEBUG": "True", "GATEWAY_RECORD_SINK": "proxy.record.memory_sink"}
    procs = [
        subprocess.Popen(
            [sys.executable, "manage.py", "fake_provider", "--port", str(FAKE_PORT)],
            cwd=ROOT,
            env=env,
        ),
        subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "gateway_site.asgi:application",
                "--worker-class",
                "uvicorn.workers.UvicornWorker",
                "--workers",
                "1",
                "--bind",
                f"127.0.0.1:{GATEWAY_PORT}",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        ),
    ]
    try:
        time.sleep(4)
        on, off = asyncio.run(measure_proxy(on_key, off_key, calls))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)
    print(f"through the gateway (gunicorn, 1 worker), {calls} sequential calls per case")
    print("case                     p50_ms  p95_ms  p99_ms")
    for name, values in (("4 matching policies", on), ("no matching policy", off)):
        print(f"{name:<24} {pct(values, 50):6.3f}  {pct(values, 95):6.3f}  {pct(values, 99):6.3f}")
    print(f"added p50 of the spend check through the proxy: {pct(on, 50) - pct(off, 50):.3f} ms")


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--windows", type=int, default=1, help="windows per policy (1-4)")
    parser.add_argument("--db", action="store_true", help="embedded mode: database counters")
    parser.add_argument("--proxy", action="store_true", help="through a real gateway (on vs off)")
    args = parser.parse_args()
    setup(use_redis=not args.db)
    windows = ["daily", "monthly", "weekly", "hourly"][: args.windows]
    key, free_key, on_plain, off_plain = world(windows)
    if args.proxy:
        run_proxy(on_plain, off_plain, args.calls)
        return 0
    on, on_after = asyncio.run(measure(key, args.calls))
    off, off_after = asyncio.run(measure(free_key, args.calls))
    mode = "database counters (PostgreSQL)" if args.db else "Redis script"
    print(f"spend gate, {args.calls} sequential calls, {mode}, {len(windows)} window(s) per policy")
    print("case                     p50_ms  p95_ms  p99_ms")
    rows = (
        ("before(), 4 policies", on),
        ("before(), no policy", off),
        ("after(), 4 policies", on_after),
        ("after(), no policy", off_after),
    )
    for name, values in rows:
        print(f"{name:<24} {pct(values, 50):6.3f}  {pct(values, 95):6.3f}  {pct(values, 99):6.3f}")
    print(
        f"added p50 before the call is forwarded: {pct(on, 50) - pct(off, 50):.3f} ms "
        f"(after(), off the client's path: {pct(on_after, 50) - pct(off_after, 50):.3f} ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
