"""A real gateway whose call records reach the tracing tables, for verify_gateway, the docs'
commands and the conformance tests (tests/conformance imports these fixtures).

Reuses the proxy engineer's runner (devtools.testing.running_gateway: uvicorn on port 0 plus the
in-process fake provider in one background thread); the difference is the record sink:
`tracing.shipping.ship_records` with its embedded in-process writer (REDIS_URL unset for the
module), so a run appears in the database as it would behind the Celery drain. The Redis path
of shipping is tested by the tracing app. The data is a committed world per module
(rollout/tests/world.py), so these tests need no per-test database flush.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from devtools.testing import RunningGateway, require_test_database, running_gateway
from proxy.app import ProxyApp
from rollout.tests.world import World, committed_world


@pytest.fixture(scope="module")
def traced_servers(django_db_setup: Any, django_db_blocker: Any) -> Iterator[RunningGateway]:
    require_test_database()
    # REDIS_URL unset for the module: ship_records reads it per batch and takes the in-process path.
    with (
        override_settings(REDIS_URL=""),
        django_db_blocker.unblock(),
        running_gateway(GATEWAY_RECORD_SINK="tracing.shipping.ship_records") as gw,
    ):
        yield gw
    # The gateway's threads are gone but their database connections linger until collected;
    # collecting them closes the sessions, so the test database can be dropped at the end.
    gc.collect()


@pytest.fixture(scope="module")
def world(traced_servers: RunningGateway, django_db_blocker: Any) -> Iterator[World]:
    with committed_world(traced_servers.fake_url, django_db_blocker) as created:
        yield created
        wait_recorder_idle(traced_servers.app)


@pytest.fixture
def db_access(django_db_blocker: Any) -> Iterator[None]:
    """Database access for a test that reads what the gateway committed (no transaction)."""
    with django_db_blocker.unblock():
        yield


def wait_recorder_idle(app: ProxyApp, timeout: float = 5.0) -> None:
    """Block (bounded) until the gateway's recorder has delivered everything queued. The
    recorder thread is a single worker, so a no-op submitted behind the deliveries finishes
    after them."""
    recorder = app.recorder
    deadline = time.monotonic() + timeout
    quiet = 0
    # Idle twice, 50 ms apart: a call's record is queued after its response was sent, and the
    # drain picks it up on the event loop before handing it to the thread.
    while quiet < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
        recorder._executor.submit(lambda: None).result(timeout=timeout)
        idle = not recorder._queue and not recorder._pending_touch
        quiet = quiet + 1 if idle else 0
