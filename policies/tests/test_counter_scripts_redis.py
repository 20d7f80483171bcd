"""The Redis counter scripts hold when a command runs twice: a cluster client resends a command
whose reply it lost (a connection cut after Redis ran it), so a reservation made again under
the same id must count once, or it holds budget and slots nobody will release."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
import uuid
from typing import Any

import pytest
from django.conf import settings

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL")


def _run(work: Any) -> Any:
    async def go() -> Any:
        from hotpath.redis_client import async_client

        client = async_client(settings.REDIS_URL)
        try:
            return await work(client)
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_a_rate_limit_reservation_sent_twice_counts_once() -> None:
    from policies.ratelimit.store_redis import RateCounter, RedisRateStore

    counter = RateCounter(
        organization_id=random.randint(10**8, 10**9),
        policy_id=1,
        member="",
        window="minute",
        metric="requests",
        seconds=60,
        limit=2,
        amount=1,
    )
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    now_ms = int(time.time() * 1000)

    async def work(client: Any) -> list[Any]:
        store = RedisRateStore(client)
        results = [
            await store.reserve([counter], reservation_id=first, now_ms=now_ms),
            await store.reserve([counter], reservation_id=first, now_ms=now_ms),  # resent
            await store.reserve([counter], reservation_id=second, now_ms=now_ms + 1),
            await store.reserve([counter], reservation_id=uuid.uuid4().hex, now_ms=now_ms + 2),
        ]
        await client.delete(counter.key, counter.key + ":z")
        return results

    ok = [result.ok for result in _run(work)]
    assert ok == [True, True, True, False]  # two calls admitted on a limit of 2, no more


def test_a_spend_reservation_sent_twice_holds_its_amount_once() -> None:
    from policies.spend.store_redis import Counter, RedisSpendStore

    start = dt.datetime.now(tz=dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    counter = Counter(
        organization_id=random.randint(10**8, 10**9),
        policy_id=1,
        member="",
        window="daily",
        window_start=start,
        limit_micros=2_000,
        amount_micros=1_000,
    )
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    now = time.time()

    async def work(client: Any) -> list[Any]:
        store = RedisSpendStore(client)
        reserve = store.reserve
        results = [
            await reserve([counter], reservation_id=first, now=now, ttl_seconds=60, baselines=[0]),
            await reserve([counter], reservation_id=first, now=now, ttl_seconds=60, baselines=[0]),
            await reserve([counter], reservation_id=second, now=now, ttl_seconds=60, baselines=[0]),
            await reserve(
                [counter], reservation_id=uuid.uuid4().hex, now=now, ttl_seconds=60, baselines=[0]
            ),
        ]
        await client.delete(counter.key, counter.key + ":r")
        return results

    ok = [result.ok for result in _run(work)]
    assert ok == [True, True, True, False]  # $0.002 cap: two $0.001 reservations, no more
