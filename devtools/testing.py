"""A real gateway and the fake provider on loopback, for end-to-end tests of every part.

    with running_gateway(gates=["policies.spend.gate.SpendGate"]) as gw:
        openai.OpenAI(base_url=f"{gw.url}/openai/v1", api_key=key).chat.completions.create(...)
        gw.records(1)            # CallRecords the memory sink received (bounded wait)
        gw.upstream_requests()   # what reached the fake provider

Both servers run in one background thread with their own event loop (uvicorn on a port-0
socket, the fake provider's aiohttp app on another). The proxy's auth refresh thread reads the
test database, so tests need committed rows: `django_db(transaction=True,
serialized_rollback=True)` (the latter keeps the built-in roles and prices the migrations seed).
Point a workspace at the fake with `gw.give_secrets(workspace)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from django.test import override_settings

from devtools.fake_provider import FakeProvider, start_fake_provider
from hotpath.callrecord import CallRecord
from proxy import record
from proxy.app import ProxyApp
from proxy.http_server import GatewayHttpProtocol

SECRET_NAMES = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY")


@dataclass
class RunningGateway:
    url: str  # the gateway, e.g. http://127.0.0.1:41234
    fake_url: str
    fake: FakeProvider
    app: ProxyApp

    def records(self, count: int = 1, timeout: float = 5.0) -> list[CallRecord]:
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

    def reset(self, timeout: float = 5.0) -> None:
        """Forget earlier calls, once the ones still finishing have been recorded."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and (self.app.inflight or self.app.recorder.pending()):
            time.sleep(0.01)
        self.fake.requests.clear()
        record.memory_clear()

    def give_secrets(self, workspace: Any) -> None:
        """Set the three provider secrets of `workspace`, all pointing at the fake provider."""
        from secrets_vault.services import secret_set

        for name in SECRET_NAMES:
            secret_set(
                workspace=workspace,
                name=name,
                value=f"sk-upstream-{name[:5].lower()}-0000",
                base_url=self.fake_url,
            )


def give_bedrock_secrets(
    workspace: Any, fake_url: str, *, signed: bool = False, session_token: bool = False
) -> None:
    """Point `workspace`'s Bedrock at the fake: its API key, or (signed) the fake's access key
    pair (SigV4, checked by the fake), in us-east-1."""
    from devtools.fake_formats_cloud import FAKE_AWS_ACCESS_KEY_ID, FAKE_AWS_SECRET_ACCESS_KEY
    from secrets_vault.models import ProviderSecret
    from secrets_vault.services import secret_set

    names = ("AWS_BEARER_TOKEN_BEDROCK", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    ProviderSecret.objects.filter(
        workspace=workspace, name__in=(*names, "AWS_SESSION_TOKEN")
    ).delete()
    values = {"AWS_REGION": "us-east-1"}
    if signed:
        values["AWS_ACCESS_KEY_ID"] = FAKE_AWS_ACCESS_KEY_ID
        values["AWS_SECRET_ACCESS_KEY"] = FAKE_AWS_SECRET_ACCESS_KEY
        if session_token:
            values["AWS_SESSION_TOKEN"] = "FakeSessionToken0000"
    else:
        values["AWS_BEARER_TOKEN_BEDROCK"] = "bedrock-api-key-fake-0000"
    for name, value in values.items():
        secret_set(workspace=workspace, name=name, value=value, base_url=fake_url)


def give_azure_secrets(workspace: Any, fake_url: str) -> None:
    """Point `workspace`'s Azure OpenAI at the fake: a key whose base URL (the resource's
    endpoint) is the fake, and gpt-4o-mini deployed as `chat-prod`."""
    from secrets_vault.services import secret_set

    secret_set(
        workspace=workspace,
        name="AZURE_OPENAI_API_KEY",
        value="azure-api-key-fake-0000",
        base_url=fake_url,
    )
    secret_set(
        workspace=workspace,
        name="AZURE_OPENAI_DEPLOYMENTS",
        value="gpt-4o-mini=chat-prod,text-embedding-3-small=embed-prod",
    )


def give_vertex_secret(workspace: Any, fake_url: str) -> None:
    """Set `workspace`'s VERTEX_SERVICE_ACCOUNT_JSON to the fake's service account (its token
    endpoint is the fake's) and point Vertex at the fake."""
    import json

    from devtools.fake_formats_cloud import fake_service_account
    from secrets_vault.services import secret_set

    secret_set(
        workspace=workspace,
        name="VERTEX_SERVICE_ACCOUNT_JSON",
        value=json.dumps(fake_service_account(f"{fake_url}/token"), indent=2),
        base_url=fake_url,
    )


def ensure_seed_data() -> None:
    """Put back the built-in roles and prices the data migrations seed, if a transactional
    test flushed them (Django restores serialized data only when the next such test starts).

    When the session serialized the test database (some test uses serialized_rollback), the
    same rows are restored with their original primary keys, so a later serialized_rollback
    test can restore them again without conflicts; otherwise the seeds run again."""
    import importlib

    from django.apps import apps
    from django.db import connection

    from orgs.models import Role

    if Role.objects.filter(builtin=True).exists():
        return
    serialized = getattr(connection, "_test_serialized_contents", None)
    if serialized:
        connection.creation.deserialize_db_from_string(serialized)
        return
    importlib.import_module("orgs.migrations.0002_builtin_roles").create_builtin_roles(apps, None)
    for seeds in ("0002_seed_prices", "0003_gemini_embedding_prices", "0004_bedrock_provider"):
        importlib.import_module(f"pricing.migrations.{seeds}").seed(apps, None)


def _serve(app: ProxyApp, sock: socket.socket, ready: threading.Event, box: dict[str, Any]) -> None:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    async def main() -> None:
        runner, fake, port = await start_fake_provider()
        box["fake"], box["fake_port"] = fake, port
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                lifespan="on",
                log_level="warning",
                access_log=False,
                http=GatewayHttpProtocol,  # the limits of `make serve`'s worker class
            )
        )
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


@contextlib.contextmanager
def running_gateway(gates: list[str] | None = None, **overrides: Any) -> Iterator[RunningGateway]:
    """Start the servers (call with database access allowed: the first auth table is built at
    start-up, after `ensure_seed_data`); `gates` replaces GATEWAY_PROXY_GATES (default: none),
    `overrides` other settings."""
    options = {
        "GATEWAY_PROXY_GATES": gates or [],
        "GATEWAY_RECORD_SINK": "proxy.record.memory_sink",
        "GATEWAY_RECORD_FLUSH_SECONDS": 0.01,
        "GATEWAY_SNAPSHOT_REFRESH_SECONDS": 3600,
        **overrides,
    }
    ensure_seed_data()
    with override_settings(**options):
        app = ProxyApp()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    ready = threading.Event()
    box: dict[str, Any] = {}
    thread = threading.Thread(target=_serve, args=(app, sock, ready, box), daemon=True)
    thread.start()
    if not ready.wait(15) or "server" not in box:
        raise RuntimeError("the test gateway did not start")
    try:
        yield RunningGateway(
            url=f"http://127.0.0.1:{sock.getsockname()[1]}",
            fake_url=f"http://127.0.0.1:{box['fake_port']}",
            fake=box["fake"],
            app=app,
        )
    finally:
        box["server"].should_exit = True
        thread.join(10)


def require_test_database() -> None:
    """Refuse to run servers against anything but the test database: pytest-django creates it
    only when some collected test is marked for the database, and without one the connection
    would still point at the development database."""
    from django.db import connection

    name = str(connection.settings_dict["NAME"])
    configured = (connection.settings_dict.get("TEST") or {}).get("NAME")
    if not (
        name.startswith(("test_", "file:memorydb")) or name == ":memory:" or name == configured
    ):
        raise RuntimeError(
            f"servers for tests need the test database, not {name}: run these tests together "
            "with one that uses the database"
        )
