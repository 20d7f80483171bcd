"""verify_gateway's last step fails when the run never reaches the tracing tables (here: a
gateway whose record sink keeps records in memory), and --skip-trace leaves it out."""

from __future__ import annotations

import gc
import io
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from devtools.testing import RunningGateway, require_test_database, running_gateway
from rollout.tests.conftest import wait_recorder_idle
from rollout.tests.world import World, committed_world

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("db_access")]


@pytest.fixture(scope="module")
def untraced(django_db_setup: Any, django_db_blocker: Any) -> Iterator[RunningGateway]:
    require_test_database()
    with (
        django_db_blocker.unblock(),
        running_gateway(GATEWAY_RECORD_SINK="proxy.record.memory_sink") as gw,
    ):
        yield gw
    gc.collect()  # close the finished gateway threads' database sessions (see conftest.py)


@pytest.fixture(scope="module")
def untraced_world(untraced: RunningGateway, django_db_blocker: Any) -> Iterator[World]:
    with committed_world(untraced.fake_url, django_db_blocker) as created:
        yield created
        wait_recorder_idle(untraced.app)


def test_it_explains_a_run_that_never_appears(untraced, untraced_world):
    out = io.StringIO()
    with pytest.raises(CommandError) as info:
        call_command(
            "verify_gateway",
            "--base-url",
            untraced.url,
            "--key",
            untraced_world.keys["admin"],
            "--trace-timeout",
            "0.5",
            stdout=out,
        )
    assert info.value.returncode == 1
    text = out.getvalue()
    assert "ok    openai answered the call through the gateway" in text
    assert "FAIL  run recorded in the workspace's 'gateway' tracing project" in text
    assert "Celery worker" in text and "--skip-trace" in text


def test_skip_trace_passes_without_database_access_to_runs(untraced, untraced_world):
    out = io.StringIO()
    call_command(
        "verify_gateway",
        "--base-url",
        untraced.url,
        "--key",
        untraced_world.keys["admin"],
        "--skip-trace",
        stdout=out,
    )
    assert "(skipped)" in out.getvalue()
    assert "All checks passed." in out.getvalue()
