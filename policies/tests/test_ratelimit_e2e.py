"""Rate limits through a real gateway (uvicorn on loopback) and the fake provider, with the
official SDKs: the 429 is each SDK's rate-limit error, and the openai and anthropic SDKs'
own retries wait as long as Retry-After says, then get through."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import anthropic
import openai
import pytest
from django.conf import settings
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from devtools.testing import RunningGateway, running_gateway
from policies.ratelimit.gate import RateLimitGate
from policies.ratelimit.store_redis import RateCounter
from policies.tests.ratelimit_helpers import rate_policy
from policies.tests.spend_helpers import store_mode  # noqa: F401

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("store_mode"),
]


@pytest.fixture(scope="module")
def servers(django_db_setup: Any, django_db_blocker: Any) -> Any:
    with (
        django_db_blocker.unblock(),
        running_gateway(gates=["policies.ratelimit.gate.RateLimitGate"]) as gw,
    ):
        yield gw


@pytest.fixture
def rl_gw(servers: RunningGateway, owner: Any) -> Any:
    servers.reset()
    servers.give_secrets(owner.workspace)
    servers.app.gates = [RateLimitGate()]
    return servers


def fill_slot(policy: Any, *, ago: float) -> None:
    """Log one request on the policy's minute counter `ago` seconds in the past, through the
    store the gateway uses (as if a call had been admitted then)."""
    counter = RateCounter(
        organization_id=policy.organization_id,
        policy_id=policy.pk,
        member="",
        window="minute",
        metric="requests",
        seconds=60,
        limit=1,
        amount=1,
    )
    now_ms = int((time.time() - ago) * 1000)
    rid = uuid.uuid4().hex
    if settings.REDIS_URL:
        from policies.ratelimit.store_redis import RedisRateStore

        async def reserve() -> Any:
            from hotpath.redis_client import async_client

            client = async_client(settings.REDIS_URL)
            try:
                return await RedisRateStore(client).reserve(
                    [counter], reservation_id=rid, now_ms=now_ms
                )
            finally:
                await client.aclose()

        assert asyncio.run(reserve()).ok
    else:
        from policies.ratelimit import store_db

        assert store_db.reserve([counter], reservation_id=rid, now_ms=now_ms).ok


def test_the_429_reaches_each_sdk_as_its_rate_limit_error(rl_gw: Any, owner: Any) -> None:
    policy = rate_policy(
        owner, "main per minute", "workspace", {"minute": (1, None)}, workspace=owner.workspace
    )
    fill_slot(policy, ago=20)
    client = openai.OpenAI(
        base_url=f"{rl_gw.url}/openai/v1", api_key=owner.plaintext_key, max_retries=0
    )
    with pytest.raises(openai.RateLimitError) as oai:
        client.chat.completions.create(
            model="gpt-4o-mini", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
        )
    headers = oai.value.response.headers
    assert 30 <= int(headers["retry-after"]) <= 41  # 40 s, less what seeding took
    meta = json.loads(headers["x-gateway-metadata"])
    assert meta["outcome"] == "blocked" and meta["policies"] == ["main per minute"]
    assert meta["reason"] == "rate_limit" and meta["windows"] == ["minute"]

    claude = anthropic.Anthropic(
        base_url=f"{rl_gw.url}/anthropic", api_key=owner.plaintext_key, max_retries=0
    )
    with pytest.raises(anthropic.RateLimitError) as ant:
        claude.messages.create(
            model="claude-3-5-haiku-20241022",
            max_tokens=20,
            messages=[{"role": "user", "content": "hi"}],
        )
    assert "main per minute" in str(ant.value)

    gem = genai.Client(
        api_key=owner.plaintext_key,
        http_options=types.HttpOptions(base_url=f"{rl_gw.url}/gemini"),
    )
    with pytest.raises(genai_errors.ClientError) as gcaught:
        gem.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert gcaught.value.code == 429 and "main per minute" in str(gcaught.value)

    records = rl_gw.records(3)
    assert [r.status for r in records] == ["blocked"] * 3
    assert {r.http_status for r in records} == {429}
    assert records[0].policy_results["violated"][0]["type"] == "rate_limit"
    assert rl_gw.upstream_requests() == []


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_the_sdks_retry_after_the_seconds_retry_after_gives(
    rl_gw: Any, owner: Any, sdk: str
) -> None:
    policy = rate_policy(owner, "one a minute", "organization", {"minute": (1, None)})
    seeded = time.time()
    fill_slot(policy, ago=58.3)  # the slot frees 1.7 s after `seeded` (or a little later)
    if sdk == "openai":
        client = openai.OpenAI(
            base_url=f"{rl_gw.url}/openai/v1", api_key=owner.plaintext_key, max_retries=2
        )
        answer = client.chat.completions.create(
            model="gpt-4o-mini", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
        )
        assert answer.choices
    else:
        claude = anthropic.Anthropic(
            base_url=f"{rl_gw.url}/anthropic", api_key=owner.plaintext_key, max_retries=2
        )
        message = claude.messages.create(
            model="claude-3-5-haiku-20241022",
            max_tokens=20,
            messages=[{"role": "user", "content": "hi"}],
        )
        assert message.content
    waited = time.time() - seeded
    assert 1.7 <= waited < 10  # the retry came once the slot was free, not before
    records = rl_gw.records(2)
    assert [(r.status, r.http_status) for r in records] == [("blocked", 429), ("success", 200)]
    assert len(rl_gw.upstream_requests()) == 1


def test_a_provider_failure_counts_and_a_bad_customer_header_is_refused(
    rl_gw: Any, owner: Any
) -> None:
    rate_policy(owner, "two a minute", "organization", {"minute": (2, None)})
    client = openai.OpenAI(
        base_url=f"{rl_gw.url}/openai/v1", api_key=owner.plaintext_key, max_retries=0
    )
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-gateway-customer": "c" * 129},
        )
    assert "x-gateway-customer" in str(bad.value)
    with pytest.raises(openai.InternalServerError):  # the fake provider fails this one
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-fake-status": "500"},
        )
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )


def test_the_customer_header_reaches_traces_runs_filter_and_usage(
    rl_gw: Any, owner: Any, org_admin: Any
) -> None:
    from django.test import Client

    from tracing.models import Run
    from tracing.services import runs_ingest

    client = openai.OpenAI(
        base_url=f"{rl_gw.url}/openai/v1", api_key=owner.plaintext_key, max_retries=0
    )
    for customer in ("acme", "globex", "acme"):
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-gateway-customer": customer},
        )
    records = rl_gw.records(3)
    assert [r.customer for r in records] == ["acme", "globex", "acme"]
    assert all("customer" not in r.request_metadata for r in records)
    runs_ingest(records)
    assert sorted(Run.objects.values_list("customer", flat=True)) == ["acme", "acme", "globex"]

    admin = Client()
    admin.force_login(org_admin.user)
    page = admin.get("/admin/tracing/run/?customer=globex").content.decode()
    for run in Run.objects.all():
        shown = f"/admin/tracing/run/{run.pk}/change/" in page
        assert shown == (run.customer == "globex"), run.customer
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_login(org_admin.user)
    summary = api.get(
        "/api/v1/usage/",
        {"customer": "acme", "group_by": "customer", "organization": owner.organization.pk},
    )
    assert summary.status_code == 200, summary.content
    body = summary.json()
    assert body["totals"]["calls"] == 2
    assert [row["group"] for row in body["rows"]] == ["acme"]
