"""A real gateway whose call records reach the tracing tables, for verify_gateway and the docs.

Reuses the proxy engineer's server runner (proxy/tests/conftest.py: uvicorn on port 0 plus the
in-process fake provider in one background thread); the difference is the record sink:
`tracing.shipping.ship_records` with its embedded in-process writer (REDIS_URL unset for the
duration), so a run appears in the database as it would behind the Celery drain. The Redis
path of shipping is tested by the tracing app.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from proxy.app import ProxyApp
from proxy.tests.conftest import Servers, _serve


@pytest.fixture(scope="module")
def traced_servers(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Servers]:
    overrides = override_settings(
        GATEWAY_RECORD_SINK="tracing.shipping.ship_records",
        GATEWAY_RECORD_FLUSH_SECONDS=0.01,
        GATEWAY_AUTH_REFRESH_SECONDS=3600,
        REDIS_URL="",
    )
    overrides.enable()
    try:
        app = ProxyApp()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        ready = threading.Event()
        box: dict[str, Any] = {}
        thread = threading.Thread(target=_serve, args=(app, sock, ready, box), daemon=True)
        with django_db_blocker.unblock():  # the start-up load of the auth table reads the DB
            thread.start()
            assert ready.wait(10), "gateway did not start"
        port = sock.getsockname()[1]
        yield Servers(
            url=f"http://127.0.0.1:{port}", fake_url=f"http://127.0.0.1:{box['fake_port']}",
            fake=box["fake"], app=app,
        )
        box["server"].should_exit = True
        thread.join(10)
    finally:
        overrides.disable()


def give_secrets(workspace: Any, base_url: str) -> None:
    """The workspace's three provider secrets, pointing at `base_url` (the fake provider)."""
    from secrets_vault.services import secret_set

    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY"):
        secret_set(workspace=workspace, name=name, value=f"sk-upstream-{name[:5].lower()}-0000",
                   base_url=base_url)


@pytest.fixture
def builtin_roles(transactional_db: Any) -> None:
    """Re-create the built-in roles (a data migration) after a transactional test's flush.

    Used instead of serialized_rollback: restoring the serialized database while the gateway's
    thread reloads its auth table on every restored row locks SQLite's shared-cache test DB."""
    import importlib

    from django.apps import apps

    from orgs.models import Role

    if not Role.objects.filter(builtin=True).exists():
        migration = importlib.import_module("orgs.migrations.0002_builtin_roles")
        migration.create_builtin_roles(apps, None)


def wait_recorder_idle(app: ProxyApp, timeout: float = 5.0) -> None:
    """Block (bounded) until the gateway's recorder has delivered everything queued, so the
    transactional test's flush does not race its writes. The recorder thread is a single
    worker, so a no-op submitted behind the deliveries finishes after them."""
    import time

    recorder = app.recorder
    deadline = time.monotonic() + timeout
    quiet = 0
    # Idle twice, 50 ms apart: a call's record is queued after its response was sent, and the
    # drain picks it up on the event loop before handing it to the thread.
    while quiet < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
        recorder._executor.submit(lambda: None).result(timeout=timeout)
        idle = recorder._queue.empty() and not recorder._pending_touch
        quiet = quiet + 1 if idle else 0


@pytest.fixture
def gateway(traced_servers: Servers, builtin_roles: None) -> Iterator[Servers]:
    """traced_servers for one transactional test, quiet again before the database is flushed."""
    yield traced_servers
    wait_recorder_idle(traced_servers.app)
