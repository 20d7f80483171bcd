"""Overspend bound of spend limits: many concurrent calls from several keys at several gateway
processes against one cap that admits only a fraction of them; the total charged must never
exceed the cap.

Set-up: PostgreSQL database gw_spend_bench (created, migrated), Redis db 10 (flushed), the fake
provider on 127.0.0.1:18410 and gunicorn with WORKERS uvicorn workers on 127.0.0.1:18400.
The model "bench-tight" is priced so that a reservation equals the actual cost exactly (input
free; output $100/1M; each call asks max_tokens=10 and the fake answers exactly 10 tokens), so
every call costs $0.001 and a cap of $0.05 admits exactly 50 calls: the tightest case, where
any race in the reservation would show as overshoot.

    python bench/spend_overspend.py [--runs 20] [--calls 240] [--workers 4] [--store redis|postgres|sqlite]
                                    [--wait SECONDS]

Each run creates a new organization, its keys and the cap, then fires the burst after --wait
seconds (default 0: the burst starts the moment the cap is committed, so the change signal must
have reached every gateway process already).

Prints, per run, calls answered 200/402 and the total charged (the live counter, after every
call settled), then the worst overshoot over all runs (target: $0.00).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATABASE_URL = "postgres://postgres@127.0.0.1:5432/gw_spend_bench"
REDIS_URL = "redis://127.0.0.1:6379/10"
GATEWAY_PORT, FAKE_PORT = 18400, 18410
CAP_USD = Decimal("0.05")
KEYS = 4


def setup_django(store: str) -> None:
    """store: redis (PostgreSQL + Redis), postgres or sqlite (the embedded mode: no Redis,
    counters in the database, shared by every worker process)."""
    os.environ.update(DATABASE_URL=DATABASE_URL, REDIS_URL=REDIS_URL, LOG_LEVEL="WARNING")
    if store != "redis":
        os.environ["REDIS_URL"] = ""
    if store == "sqlite":
        os.environ["DATABASE_URL"] = ""
        os.environ["SQLITE_PATH"] = str(ROOT / "var" / "spend_bench.sqlite3")
        (ROOT / "var").mkdir(exist_ok=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_site.settings")
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    from _tracing_setup import _create_database

    if store != "sqlite":
        _create_database(DATABASE_URL)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def world() -> tuple[object, list[str]]:
    """A fresh organization (so today's window starts at zero: a new policy also counts the
    usage its subject already recorded today), KEYS service keys, the OpenAI secret on the fake."""
    from orgs import services
    from orgs.models import Role
    from pricing.models import ModelPrice
    from secrets_vault.services import secret_set

    org = services.organization_upsert(
        slug=f"spend-bench-{time.time_ns()}", llm_gateway_enabled=True
    )
    ws = services.workspace_upsert(organization=org, slug="main")
    role = Role.objects.get(builtin=True, name="WORKSPACE_ADMIN")
    keys = [
        services.api_key_create(
            organization=org, workspace=ws, role=role, name=f"bench {i}"
        ).plaintext
        for i in range(KEYS)
    ]
    secret_set(
        workspace=ws,
        name="OPENAI_API_KEY",
        value="sk-fake-0000",
        base_url=f"http://127.0.0.1:{FAKE_PORT}",
    )
    ModelPrice.objects.update_or_create(
        model="bench-tight",
        defaults={
            "provider": "openai",
            "input_per_mtok": Decimal(0),
            "output_per_mtok": Decimal(100),
            "cache_read_per_mtok": Decimal(0),
            "cache_write_per_mtok": Decimal(0),
            "max_output_tokens": 10,
            "price_date": dt.date.today(),
        },
    )
    return org, keys


def set_up_run(spend_policy_upsert: Any) -> tuple[Any, list[str], Any]:
    """A fresh organization, keys and cap. With SQLite the gateways' writers (usage rows,
    counters) may hold the database when a read-then-write transaction of the set-up wants to
    write ("database is locked"): retry the set-up a few times."""
    from django.db import OperationalError

    for attempt in range(5):
        try:
            org, keys = world()
            policy = spend_policy_upsert(
                organization=org,
                name=f"bench cap {time.time_ns()}",
                scope="organization",
                windows={"daily": CAP_USD},
            )
            return org, keys, policy
        except OperationalError:
            if attempt == 4:
                raise
            time.sleep(2)
    raise AssertionError("unreachable")


def start_servers(workers: int) -> list[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "DEBUG": "True",
    }
    fake = subprocess.Popen(
        [sys.executable, "manage.py", "fake_provider", "--port", str(FAKE_PORT)], cwd=ROOT, env=env
    )
    gateway = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "gateway_site.asgi:application",
            "--worker-class",
            "uvicorn.workers.UvicornWorker",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{GATEWAY_PORT}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    return [fake, gateway]


async def wait_healthy(timeout: float = 60.0) -> None:
    import aiohttp

    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(f"http://127.0.0.1:{GATEWAY_PORT}/health") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit("the gateway did not become healthy")


async def burst(keys: list[str], calls: int) -> list[int]:
    import aiohttp

    # "x" * 36 → the fake answers "Echo: xxx…" = 42 characters = exactly 10 output tokens.
    body = {
        "model": "bench-tight",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "x" * 36}],
    }
    url = f"http://127.0.0.1:{GATEWAY_PORT}/openai/v1/chat/completions"
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int) -> int:
            headers = {"authorization": f"Bearer {keys[i % len(keys)]}", "x-fake-delay-ms": "50"}
            async with session.post(url, json=body, headers=headers) as r:
                text = await r.read()
                if r.status not in (200, 402):
                    print(r.status, text[:200].decode(errors="replace"))
                return r.status

        return await asyncio.gather(*(one(i) for i in range(calls)))


def charged_usd(policy_id: int, org_id: int) -> tuple[float, float]:
    """(spent, still reserved) of the policy's daily counter, from Redis or the database."""
    from django.utils import timezone

    from policies.spend.models import SpendCounter
    from policies.spend.store_redis import Counter
    from policies.spend.windows import window_start

    start = window_start("daily", timezone.now())
    if not os.environ["REDIS_URL"]:
        row = SpendCounter.objects.filter(
            policy_id=policy_id, window="daily", window_start=start
        ).first()
        return (row.spent_micros / 1e6, row.reserved_micros / 1e6) if row else (0.0, 0.0)
    import redis

    key = Counter(org_id, policy_id, "", "daily", start, 0, 0).key
    spent, reserved = redis.Redis.from_url(REDIS_URL).hmget(key, "spent", "reserved")
    return int(spent or 0) / 1e6, int(reserved or 0) / 1e6


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--calls", type=int, default=240)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--store", choices=["redis", "postgres", "sqlite"], default="redis")
    parser.add_argument("--wait", type=float, default=0.0, help="seconds between cap and burst")
    args = parser.parse_args()
    setup_django(args.store)
    from policies.spend.services import spend_policy_upsert

    if args.store == "redis":
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()
    world()  # the price row exists before the servers load their price table
    procs = start_servers(args.workers)
    worst = -1.0
    try:
        asyncio.run(wait_healthy())
        print(
            f"{args.calls} concurrent calls per run, {KEYS} keys, {args.workers} gateway processes, "
            f"cap ${CAP_USD}, counters in {args.store}, burst {args.wait * 1000:.0f} ms after the cap"
        )
        print("run  200s  402s  other  charged_usd  overshoot_usd")
        for run in range(1, args.runs + 1):
            org, keys, policy = set_up_run(spend_policy_upsert)
            time.sleep(args.wait)
            statuses = asyncio.run(burst(keys, args.calls))
            deadline = time.monotonic() + 15  # settlements land (after the responses are sent)
            spent, reserved = charged_usd(policy.pk, org.pk)  # type: ignore[attr-defined]
            while reserved and time.monotonic() < deadline:
                time.sleep(0.1)
                spent, reserved = charged_usd(policy.pk, org.pk)  # type: ignore[attr-defined]
            over = spent - float(CAP_USD)
            worst = max(worst, over)
            other = len(statuses) - statuses.count(200) - statuses.count(402)
            print(
                f"{run:3d}  {statuses.count(200):4d}  {statuses.count(402):4d}  {other:5d}  {spent:11.6f}  {max(over, 0):13.6f}"
                + (f"  (reserved left {reserved:.6f})" if reserved else ""),
                flush=True,
            )
        print(f"worst overshoot over {args.runs} runs: ${max(worst, 0):.6f}")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)
    return 0 if worst <= 0 else 1


if __name__ == "__main__":
    sys.exit(main())
