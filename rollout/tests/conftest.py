"""A real gateway whose call records reach the tracing tables, for verify_gateway and the docs.

Reuses the proxy engineer's runner (proxy.testing.running_gateway: uvicorn on port 0 plus the
in-process fake provider in one background thread); the difference is the record sink:
`tracing.shipping.ship_records` with its embedded in-process writer (REDIS_URL unset for the
duration), so a run appears in the database as it would behind the Celery drain. The Redis
path of shipping is tested by the tracing app.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from proxy.app import ProxyApp
from proxy.testing import RunningGateway, running_gateway


@pytest.fixture(scope="module")
def traced_servers(django_db_setup: Any, django_db_blocker: Any) -> Iterator[RunningGateway]:
    # REDIS_URL unset for the module: ship_records reads it per batch and takes the in-process path.
    with (
        override_settings(REDIS_URL=""),
        django_db_blocker.unblock(),
        running_gateway(GATEWAY_RECORD_SINK="tracing.shipping.ship_records") as gw,
    ):
        yield gw


def give_secrets(workspace: Any, base_url: str) -> None:
    """The workspace's three provider secrets, pointing at `base_url` (the fake provider)."""
    from secrets_vault.services import secret_set

    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY"):
        secret_set(
            workspace=workspace,
            name=name,
            value=f"sk-upstream-{name[:5].lower()}-0000",
            base_url=base_url,
        )


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
def gateway(traced_servers: RunningGateway, builtin_roles: None) -> Iterator[RunningGateway]:
    """traced_servers for one transactional test, quiet again before the database is flushed."""
    yield traced_servers
    wait_recorder_idle(traced_servers.app)
