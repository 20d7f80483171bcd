"""A call through a real gateway (uvicorn on loopback, port 0) to the fake provider appears as
a run, with the sink the gateway uses by default: tracing.shipping.ship_records."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import openai
import pytest
import redis
from django.db import OperationalError

from devtools.testing import RunningGateway, running_gateway
from tracing.models import Run, UsageRecord
from tracing.shipping import stream_length
from tracing.tasks import drain_runs

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture(scope="module")
def tracing_gw(django_db_setup: Any, django_db_blocker: Any) -> Iterator[RunningGateway]:
    with (
        django_db_blocker.unblock(),
        running_gateway(GATEWAY_RECORD_SINK="tracing.shipping.ship_records") as gw,
    ):
        yield gw


@pytest.fixture
def gw(tracing_gw: RunningGateway, owner: Any, settings: Any, tmp_path: Any) -> RunningGateway:
    settings.GATEWAY_SPOOL_DIR = str(tmp_path / "spool")
    tracing_gw.give_secrets(owner.workspace)
    return tracing_gw


def wait_for_run(**lookup: Any) -> Run | None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            run = Run.objects.filter(**lookup).select_related("project").first()
        except OperationalError:
            run = None  # the test SQLite (in-memory, shared cache) locks tables while writing
        if run is not None:
            return run
        time.sleep(0.05)
    return None


def chat(gw: RunningGateway, key: str, **extra: Any) -> Any:
    client = openai.OpenAI(base_url=f"{gw.url}/openai/v1", api_key=key, max_retries=0, timeout=10)
    return client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hello tracing"}], **extra
    )


def trace_id_of(raw: Any) -> str:
    return json.loads(raw.headers["x-gateway-metadata"])["trace_id"]


def test_a_call_appears_as_a_run_with_tokens_cost_and_caller(gw, owner, settings):
    settings.REDIS_URL = ""  # the embedded default: the in-process writer
    raw = chat(gw, owner.plaintext_key)
    answer = raw.parse()
    run = wait_for_run(trace_id=trace_id_of(raw))
    assert run is not None, "no run stored"
    assert run.project.name == "gateway" and run.project.workspace_id == owner.workspace.pk
    assert run.status == "success" and run.name == "ChatCompletions"
    assert run.input_tokens == answer.usage.prompt_tokens
    assert run.output_tokens == answer.usage.completion_tokens
    assert run.cost_usd is not None and run.cost_usd > 0
    assert (run.key_id, run.key_prefix, run.user_id) == (
        owner.key.pk,
        owner.key.display_prefix,
        owner.user.pk,
    )
    assert run.request_content is None  # trace content is off by default
    usage = UsageRecord.objects.get(run_id=run.run_id)
    assert usage.cost_usd == run.cost_usd


def test_the_project_header_routes_the_run(gw, owner, settings):
    settings.REDIS_URL = ""
    raw = chat(gw, owner.plaintext_key, extra_headers={"x-gateway-project": "agents"})
    run = wait_for_run(trace_id=trace_id_of(raw))
    assert run is not None and run.project.name == "agents"
    assert run.project.workspace_id == owner.workspace.pk


@pytest.mark.redis
def test_through_redis_the_drain_stores_the_run(gw, owner, settings):
    settings.REDIS_URL = os.environ["REDIS_URL"]
    settings.GATEWAY_RECORD_STREAM = f"test:runs:{uuid.uuid4().hex}"
    try:
        raw = chat(gw, owner.plaintext_key)
        deadline = time.monotonic() + 10
        while stream_length() == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert Run.objects.count() == 0  # nothing written on the request path
        assert drain_runs() == 1
        run = Run.objects.get(trace_id=trace_id_of(raw))
        assert run.key_id == owner.key.pk and run.cost_usd is not None
    finally:
        redis.Redis.from_url(settings.REDIS_URL).delete(settings.GATEWAY_RECORD_STREAM)
