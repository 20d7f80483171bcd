"""verify_gateway's last step fails when the run never reaches the tracing tables (here: a
gateway whose record sink keeps records in memory), and --skip-trace leaves it out."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from proxy.testing import RunningGateway, running_gateway
from rollout.tests.conftest import give_secrets, wait_recorder_idle

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("builtin_roles"),
]


@pytest.fixture(scope="module")
def untraced(django_db_setup: Any, django_db_blocker: Any) -> Iterator[RunningGateway]:
    with (
        django_db_blocker.unblock(),
        running_gateway(GATEWAY_RECORD_SINK="proxy.record.memory_sink") as gw,
    ):
        yield gw


@pytest.fixture
def gw(untraced: RunningGateway) -> Iterator[RunningGateway]:
    yield untraced
    wait_recorder_idle(untraced.app)


def test_it_explains_a_run_that_never_appears(gw, owner):
    give_secrets(owner.workspace, gw.fake_url)
    out = io.StringIO()
    with pytest.raises(CommandError) as info:
        call_command(
            "verify_gateway",
            "--base-url",
            gw.url,
            "--key",
            owner.plaintext_key,
            "--trace-timeout",
            "0.5",
            stdout=out,
        )
    assert info.value.returncode == 1
    text = out.getvalue()
    assert "ok    openai answered the call through the gateway" in text
    assert "FAIL  run recorded in the workspace's 'gateway' tracing project" in text
    assert "Celery worker" in text and "--skip-trace" in text


def test_skip_trace_passes_without_database_access_to_runs(gw, owner):
    give_secrets(owner.workspace, gw.fake_url)
    out = io.StringIO()
    call_command(
        "verify_gateway",
        "--base-url",
        gw.url,
        "--key",
        owner.plaintext_key,
        "--skip-trace",
        stdout=out,
    )
    assert "(skipped)" in out.getvalue()
    assert "All checks passed." in out.getvalue()
