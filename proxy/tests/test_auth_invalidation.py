"""The auth table follows changes: in-process generation, and Redis pub/sub across processes."""

from __future__ import annotations

import asyncio

import pytest

from hotpath import changes as invalidation
from proxy.auth import AuthState


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_a_committed_change_in_this_process_rebuilds_before_the_next_request() -> None:
    state = AuthState()
    first = await state.current()
    assert await state.current() is first
    await asyncio.to_thread(invalidation.invalidate, "test")  # autocommit: runs at once
    assert await state.current() is not first
    await state.stop()


@pytest.mark.redis
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_a_message_on_the_redis_channel_rebuilds_the_table(settings) -> None:
    import redis.asyncio as aioredis

    state = AuthState()
    await state.refresh()
    first = state.table
    state.start()
    client = aioredis.Redis.from_url(settings.REDIS_URL)
    try:
        for _ in range(100):  # publish until the listener has subscribed and rebuilt
            await client.publish(invalidation.CHANNEL, "test")
            await asyncio.sleep(0.05)
            if state.table is not first:
                break
    finally:
        await client.aclose()
        await state.stop()
    assert state.table is not first
