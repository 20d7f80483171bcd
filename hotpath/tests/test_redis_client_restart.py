"""The gateway's Redis clients (hotpath.redis_client) against a redis-server of the test's own,
restarted under them: the first command after the restart succeeds on a fresh connection (the
pooled ones died with the old server), whether the event loop saw the old connections close
or was busy meanwhile; with the server down, a command fails with a Redis error, never hangs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from devtools.redis_servers import RedisServer, free_port, redis_binaries
from hotpath.redis_client import REDIS_ERRORS, async_client, sync_client

pytestmark = pytest.mark.skipif(redis_binaries() is None, reason="needs redis-server")


def test_the_first_commands_after_a_restart_succeed(tmp_path: Path) -> None:
    server = RedisServer(free_port(), tmp_path / "redis")
    server.start()
    try:
        asyncio.run(_async_side(server))
        _sync_side(server)
    finally:
        server.stop()


async def _async_side(server: RedisServer) -> None:
    client = async_client(f"{server.url}/0", max_connections=4, timeout=2, socket_timeout=2)
    try:
        # Several pooled connections, idle when the server goes away.
        await asyncio.gather(*(client.set(f"k{i}", i) for i in range(4)))

        # Restarted while the loop runs (it sees the connections close).
        await asyncio.to_thread(server.stop)
        await asyncio.to_thread(server.start)
        assert await client.get("k0") is None  # a new, empty server answered
        pipe = client.pipeline(transaction=False)
        pipe.set("a", 1).zadd("z", {"r": 5}, xx=True).get("a")
        assert await pipe.execute() == [True, 0, b"1"]

        # Restarted while the loop is busy (nothing has told it the connections closed).
        await asyncio.gather(*(client.set(f"k{i}", i) for i in range(4)))
        server.stop()
        server.start()
        assert await client.get("k0") is None

        # Down: a clean Redis error (what the callers catch to fail closed).
        server.stop()
        with pytest.raises(REDIS_ERRORS):
            await client.get("k0")
        server.start()
        assert await client.ping() is True
    finally:
        await client.aclose()


def _sync_side(server: RedisServer) -> None:
    client = sync_client(f"{server.url}/0", socket_timeout=2, socket_connect_timeout=1)
    try:
        client.set("s", 1)
        server.stop()
        server.start()
        assert client.get("s") is None
    finally:
        client.close()
