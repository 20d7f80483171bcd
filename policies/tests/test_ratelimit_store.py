"""The rate-limit counters' Redis connections (policies.counters.ScriptStore's own, with the
script commands packed ahead of time) against a Redis server of the test's own: a restart
(connections dropped, scripts and counters gone) costs no call, and checks cancelled midway
(clients hanging up) leave the connections usable."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from devtools.redis_servers import RedisServer, free_port, redis_binaries
from hotpath.errors import PolicyBlocked
from policies.ratelimit.gate import RateLimitGate
from policies.tests.ratelimit_helpers import rate_policy
from policies.tests.spend_helpers import drive, make_call
from pricing.table import Usage

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(redis_binaries() is None, reason="needs redis-server"),
]


async def call(gate: RateLimitGate, persona: Any) -> str:
    c = make_call(persona)
    try:
        await gate.before(c)
    except PolicyBlocked as blocked:
        return str(blocked.status)
    c.sent_body, c.usage = b"{}", Usage(input_tokens=1, output_tokens=1)
    await gate.after(c)
    return "ok"


@drive
async def test_a_restarted_redis_costs_no_call(owner: Any, settings: Any, tmp_path: Any) -> None:
    server = RedisServer(free_port(), tmp_path / "redis")
    await asyncio.to_thread(server.start)
    try:
        settings.REDIS_URL = f"{server.url}/0"
        await sync_to_async(rate_policy)(owner, "rpm", "organization", {"minute": (5, None)})
        gate = RateLimitGate()
        assert [await call(gate, owner) for _ in range(6)] == ["ok"] * 5 + ["429"]
        # A crash and a restart (run off the loop, which meanwhile sees the connections
        # close): the counters and the loaded scripts are gone with it.
        await asyncio.to_thread(server.stop)
        await asyncio.to_thread(server.start)
        assert [await call(gate, owner) for _ in range(6)] == ["ok"] * 5 + ["429"]
    finally:
        await asyncio.to_thread(server.stop)


@drive
async def test_checks_cancelled_midway_leave_the_connections_usable(
    owner: Any, settings: Any, tmp_path: Any
) -> None:
    server = RedisServer(free_port(), tmp_path / "redis")
    await asyncio.to_thread(server.start)
    try:
        settings.REDIS_URL = f"{server.url}/0"
        await sync_to_async(rate_policy)(owner, "rpm", "organization", {"minute": (1000, None)})
        gate = RateLimitGate()
        assert await call(gate, owner) == "ok"
        # Clients hanging up: their checks are cancelled while the script's answer is on its
        # way; a connection is then closed rather than reused with that answer unread.
        for _ in range(20):
            task = asyncio.ensure_future(call(gate, owner))
            await asyncio.sleep(0)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        results = await asyncio.gather(*(call(gate, owner) for _ in range(50)))
        assert results == ["ok"] * 50
    finally:
        await asyncio.to_thread(server.stop)
