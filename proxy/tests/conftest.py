"""A real gateway (uvicorn, loopback, port 0) and the fake provider, in one background thread.

The server thread and its auth-refresh thread read the test database, so end-to-end tests use
`django_db(transaction=True)`: rows are committed and the in-process invalidation generation
(bumped on commit) makes the proxy reload its table before the next request.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from django.test import override_settings

from proxy import record
from proxy.app import ProxyApp
from proxy.fake_provider import FakeProvider, start_fake_provider


@dataclass
class Servers:
    url: str  # the gateway, e.g. http://127.0.0.1:41234
    fake_url: str
    fake: FakeProvider
    app: ProxyApp

    def records(self, count: int = 1, timeout: float = 5.0) -> list[record.CallRecord]:
        """Wait (bounded) until the memory sink holds `count` records; return them all."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = record.memory_records()
            if len(got) >= count:
                return got
            time.sleep(0.02)
        return record.memory_records()

    def upstream_requests(self) -> list[dict[str, Any]]:
        return list(self.fake.requests)


def _serve(app: ProxyApp, sock: socket.socket, ready: threading.Event, box: dict[str, Any]) -> None:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    async def main() -> None:
        runner, fake, port = await start_fake_provider()
        box["fake"], box["fake_port"] = fake, port
        config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False)
        server = uvicorn.Server(config)
        box["server"] = server
        serving = asyncio.ensure_future(server.serve(sockets=[sock]))
        while not server.started and not serving.done():
            await asyncio.sleep(0.01)
        ready.set()
        await serving
        await runner.cleanup()

    try:
        loop.run_until_complete(main())
    finally:
        ready.set()
        loop.close()


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    with override_settings(GATEWAY_RECORD_FLUSH_SECONDS=0.01, GATEWAY_AUTH_REFRESH_SECONDS=3600):
        app = ProxyApp()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    ready = threading.Event()
    box: dict[str, Any] = {}
    thread = threading.Thread(target=_serve, args=(app, sock, ready, box), daemon=True)
    thread.start()
    assert ready.wait(10), "gateway did not start"
    port = sock.getsockname()[1]
    yield Servers(
        url=f"http://127.0.0.1:{port}",
        fake_url=f"http://127.0.0.1:{box['fake_port']}",
        fake=box["fake"],
        app=app,
    )
    box["server"].should_exit = True
    thread.join(10)


@pytest.fixture
def gw(servers: Servers, owner: Any) -> Iterator[Servers]:
    """The servers, with owner's workspace given all three provider secrets on the fake."""
    from secrets_vault.services import secret_set

    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY"):
        secret_set(
            workspace=owner.workspace,
            name=name,
            value=f"sk-upstream-{name[:5].lower()}-0000",
            base_url=servers.fake_url,
        )
    servers.fake.requests.clear()
    record.memory_clear()
    yield servers
