"""Spend limits through a real gateway (uvicorn on loopback) and the fake provider, with the
official SDKs: the 402 is each SDK's normal error, streams and disconnects are charged, blocks
are traced, concurrent calls never overshoot."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any

import aiohttp
import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from devtools.testing import RunningGateway, running_gateway
from policies.spend.gate import SpendGate
from policies.spend.models import SpendPolicy
from policies.spend.selectors import current_spend
from policies.spend.snapshot import usd_to_micros
from policies.tests.spend_helpers import policy, store_mode  # noqa: F401

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("store_mode"),
]


@pytest.fixture(scope="module")
def servers(django_db_setup: Any, django_db_blocker: Any) -> Any:
    with (
        django_db_blocker.unblock(),
        running_gateway(gates=["policies.spend.gate.SpendGate"]) as gw,
    ):
        yield gw


@pytest.fixture
def spend_gw(servers: RunningGateway, owner: Any) -> Any:
    """The gateway with a fresh spend gate (a new policy snapshot) and owner's workspace
    pointed at the fake provider."""
    servers.reset()
    servers.give_secrets(owner.workspace)
    gate = SpendGate()
    servers.app.gates = [gate]
    yield servers
    # The gate's database work off the request path (members, alerts) and the recorder's
    # writes end before the test database is flushed: a write still running then would
    # deadlock with the flush's TRUNCATE.
    deadline = time.monotonic() + 10
    while gate._background and time.monotonic() < deadline:
        time.sleep(0.01)
    servers.reset()


def spent_usd(name: str) -> float:
    (row,) = [
        r for r in current_spend(SpendPolicy.objects.get(name=name)) if r["window"] == "daily"
    ]
    return row["spent_usd"]


def test_the_402_reaches_each_sdk_as_its_normal_error_and_is_traced(
    spend_gw: Any, owner: Any
) -> None:
    policy(owner, "tiny team cap", "workspace", {"daily": "0.00001"}, workspace=owner.workspace)
    client = openai.OpenAI(
        base_url=f"{spend_gw.url}/openai/v1", api_key=owner.plaintext_key, max_retries=0
    )
    with pytest.raises(openai.APIStatusError) as oai:
        client.chat.completions.create(
            model="gpt-4o-mini", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
        )
    assert oai.value.status_code == 402
    assert "request blocked by gateway policies: tiny team cap" in str(oai.value)
    meta = json.loads(oai.value.response.headers["x-gateway-metadata"])
    assert (
        meta["outcome"] == "blocked"
        and meta["scopes"] == ["workspace"]
        and meta["windows"] == ["daily"]
    )

    claude = anthropic.Anthropic(
        base_url=f"{spend_gw.url}/anthropic", api_key=owner.plaintext_key, max_retries=0
    )
    with pytest.raises(anthropic.APIStatusError) as ant:
        claude.messages.create(
            model="claude-3-5-haiku-20241022",
            max_tokens=20,
            messages=[{"role": "user", "content": "hi"}],
        )
    assert ant.value.status_code == 402 and "tiny team cap" in str(ant.value)

    gem = genai.Client(
        api_key=owner.plaintext_key,
        http_options=types.HttpOptions(base_url=f"{spend_gw.url}/gemini"),
    )
    with pytest.raises(genai_errors.APIError) as gcaught:
        gem.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert gcaught.value.code == 402 and "tiny team cap" in str(gcaught.value)

    records = spend_gw.records(3)
    assert [r.status for r in records] == ["blocked"] * 3
    assert all(r.policy_results["violated"][0]["name"] == "tiny team cap" for r in records)
    assert spend_gw.upstream_requests() == []
    # Tracing's ingestion (what the record sink feeds) stores each block as a run.
    from tracing.models import Run
    from tracing.services import runs_ingest

    runs_ingest(records)
    runs = Run.objects.filter(run_id__in=[r.run_id for r in records])
    assert runs.count() == 3
    assert {(run.status, run.policy_outcome) for run in runs} == {("blocked", "blocked")}
    assert all(run.policy_results["violated"][0]["name"] == "tiny team cap" for run in runs)


def test_a_stream_is_charged_its_actual_cost(spend_gw: Any, owner: Any) -> None:
    policy(owner, "org", "organization", {"daily": "5"})
    client = openai.OpenAI(
        base_url=f"{spend_gw.url}/openai/v1", api_key=owner.plaintext_key, max_retries=0
    )
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini",
            max_tokens=50,
            stream=True,
            messages=[{"role": "user", "content": "stream me"}],
        )
    )
    assert chunks
    (rec,) = spend_gw.records(1)
    assert rec.cost_usd and rec.policy_results["passed"][0]["name"] == "org"
    deadline = time.monotonic() + 3
    while spent_usd("org") == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert spent_usd("org") == usd_to_micros(rec.cost_usd) / 1e6


def test_a_disconnected_stream_is_charged_what_was_consumed(spend_gw: Any, owner: Any) -> None:
    policy(owner, "org", "organization", {"daily": "5"})
    body = b'{"model":"gpt-4o-mini","stream":true,"max_tokens":50,"messages":[{"role":"user","content":"slow"}]}'
    sock = socket.create_connection(("127.0.0.1", int(spend_gw.url.rsplit(":", 1)[1])), timeout=10)
    sock.sendall(
        b"POST /openai/v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        + f"authorization: Bearer {owner.plaintext_key}\r\ncontent-length: {len(body)}\r\n".encode()
        + b"x-fake-stream-pause-ms: 3000\r\n\r\n"
        + body
    )
    data, deadline = b"", time.monotonic() + 5
    while b'"role":"assistant"' not in data and time.monotonic() < deadline:
        data += sock.recv(65536)
    sock.close()
    (rec,) = spend_gw.records(1, timeout=6)
    assert rec.error == "client disconnected"
    # The provider's usage never came: the input is charged as counted before sending (the
    # reservation's own bound), the output as the streamed events, and the run says so.
    assert rec.usage_estimated and rec.input_tokens >= len(body) and rec.output_tokens >= 1
    assert rec.cost_usd and rec.cost_usd > 0
    expected = usd_to_micros(rec.cost_usd) / 1e6
    deadline = time.monotonic() + 3
    while spent_usd("org") != expected and time.monotonic() < deadline:
        time.sleep(0.02)
    assert spent_usd("org") == expected  # what the proxy saw, not the $ reservation


def test_concurrent_calls_through_the_gateway_never_overshoot(spend_gw: Any, owner: Any) -> None:
    # Each call reserves ~ (body + 1,000 tokens) x $0.15/M + 400 x $0.60/M ≈ $0.0004; the cap
    # lets a handful through at once and the actual costs (~$0.00001) are far below. The
    # provider holds each call 2 s, so the whole burst arrives while the first ones still hold
    # their reservations, however loaded the machine.
    policy(owner, "org", "organization", {"daily": "0.002"})
    body = {
        "model": "gpt-4o-mini",
        "max_tokens": 400,
        "messages": [{"role": "user", "content": "x"}],
    }

    async def fire() -> list[int]:
        headers = {"authorization": f"Bearer {owner.plaintext_key}", "x-fake-delay-ms": "2000"}
        async with aiohttp.ClientSession() as session:

            async def one() -> int:
                async with session.post(
                    f"{spend_gw.url}/openai/v1/chat/completions", json=body, headers=headers
                ) as r:
                    await r.read()
                    return r.status

            return await asyncio.gather(*(one() for _ in range(40)))

    statuses = asyncio.run(fire())
    assert set(statuses) == {200, 402}
    records = spend_gw.records(40)
    charged = sum(r.cost_usd or 0 for r in records)
    assert charged <= 0.002
    assert statuses.count(402) >= 20  # most of the burst found the cap full


@pytest.mark.redis
def test_redis_down_is_a_503_in_the_callers_envelope(
    spend_gw: Any, owner: Any, settings: Any
) -> None:
    if not settings.REDIS_URL:
        pytest.skip("the Redis mode only")
    policy(owner, "org", "organization", {"daily": "5"})
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    spend_gw.app.gates = [SpendGate()]
    claude = anthropic.Anthropic(
        base_url=f"{spend_gw.url}/anthropic", api_key=owner.plaintext_key, max_retries=0
    )
    with pytest.raises(anthropic.APIStatusError) as caught:
        claude.messages.create(
            model="claude-3-5-haiku-20241022",
            max_tokens=20,
            messages=[{"role": "user", "content": "hi"}],
        )
    assert caught.value.status_code == 503
    assert "spend limits cannot be checked right now" in str(caught.value)
    assert spend_gw.upstream_requests() == []


# -- clients that hang up cannot get around a cap --------------------------------------------
# The conversation is long and the answer short, so a call's cost is mostly its input: what
# the provider bills even when the client goes away at 0.5 s, before the usage is reported.
LONG_HISTORY = "lorem ipsum dolor sit amet " * 150


def _capped_request(dialect: str, url: str, key: str, *, hang_up: bool) -> tuple[str, dict, dict]:
    """(url, json body, headers) of one streamed call in `dialect`."""
    history = [
        {"role": "user", "content": LONG_HISTORY},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "hi"},
    ]
    headers = {"x-fake-stream-pause-ms": "3000"} if hang_up else {}
    if dialect == "openai":
        body = {"model": "gpt-4o-mini", "stream": True, "max_tokens": 5, "messages": history}
        return (
            f"{url}/openai/v1/chat/completions",
            body,
            {"authorization": f"Bearer {key}", **headers},
        )
    if dialect == "responses":
        body = {"model": "gpt-4o-mini", "stream": True, "max_output_tokens": 5, "input": history}
        return f"{url}/openai/v1/responses", body, {"authorization": f"Bearer {key}", **headers}
    if dialect == "anthropic":
        body = {"model": "claude-haiku-4-5", "stream": True, "max_tokens": 5, "messages": history}
        return f"{url}/anthropic/v1/messages", body, {"x-api-key": key, **headers}
    bearer = {"authorization": f"Bearer {key}", **headers}
    if dialect == "bedrock":  # Claude through Bedrock's InvokeModelWithResponseStream
        body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5, "messages": history}
        model = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
        return f"{url}/bedrock/model/{model}/invoke-with-response-stream", body, bearer
    if dialect == "converse":  # Bedrock's ConverseStream
        body = {
            "messages": [{"role": m["role"], "content": [{"text": m["content"]}]} for m in history],
            "inferenceConfig": {"maxTokens": 5},
        }
        return f"{url}/bedrock/model/amazon.nova-lite-v1:0/converse-stream", body, bearer
    contents = [
        {"role": "model" if m["role"] == "assistant" else "user", "parts": [{"text": m["content"]}]}
        for m in history
    ]
    body = {"contents": contents, "generationConfig": {"maxOutputTokens": 5}}
    path = "/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    return f"{url}{path}", body, {"x-goog-api-key": key, **headers}


def _call_until_blocked(gw: RunningGateway, dialect: str, key: str, *, hang_up: bool) -> int:
    """Streamed calls until the cap answers 402 (at most 25); the number admitted."""
    import httpx

    url, body, headers = _capped_request(dialect, gw.url, key, hang_up=hang_up)
    for admitted in range(25):
        started = time.monotonic()
        with httpx.stream("POST", url, json=body, headers=headers, timeout=10) as response:
            if response.status_code == 402:
                return admitted
            assert response.status_code == 200
            for _chunk in response.iter_bytes():
                if hang_up:  # the first event has arrived: hang up at 0.5 s
                    time.sleep(max(0.0, 0.5 - (time.monotonic() - started)))
                    break
        gw.records(admitted + 1)  # settled before the next call
    return 25


@pytest.mark.parametrize(
    "dialect", ["openai", "responses", "anthropic", "gemini", "bedrock", "converse"]
)
def test_clients_hanging_up_at_half_a_second_are_blocked_as_if_they_had_not(
    spend_gw: Any, owner: Any, dialect: str
) -> None:
    if dialect in ("bedrock", "converse"):
        from devtools.testing import give_bedrock_secrets

        give_bedrock_secrets(owner.workspace, spend_gw.fake_url)
    # One call without a cap: what a full call costs, and so a cap that admits a few.
    url, body, headers = _capped_request(dialect, spend_gw.url, owner.plaintext_key, hang_up=False)
    import httpx

    with httpx.stream("POST", url, json=body, headers=headers, timeout=10) as response:
        b"".join(response.iter_bytes())
    (first,) = spend_gw.records(1)
    cap = round(first.cost_usd * 12, 6)
    spend_gw.reset()

    policy(owner, "full", "organization", {"daily": str(cap)})
    admitted_full = _call_until_blocked(spend_gw, dialect, owner.plaintext_key, hang_up=False)
    SpendPolicy.objects.filter(name="full").delete()
    spend_gw.app.gates = [SpendGate()]
    spend_gw.reset()

    policy(owner, "hang-ups", "organization", {"daily": str(cap)})
    admitted = _call_until_blocked(spend_gw, dialect, owner.plaintext_key, hang_up=True)
    records = spend_gw.records(admitted + 1)
    upstream = spend_gw.upstream_requests()

    assert 1 <= admitted_full < 25  # the cap works for calls read to their end
    assert admitted <= admitted_full + 1, (admitted, admitted_full)  # and for hang-ups
    served = [r for r in records if r.status != "blocked"]
    assert len(served) == admitted and records[-1].status == "blocked"
    assert all(r.error == "client disconnected" for r in served)
    for rec, sent in zip(served, upstream, strict=True):
        assert sent["disconnected"] is True
        billed_input = _provider_input(sent)
        assert rec.input_tokens >= billed_input > 0  # never less than the provider bills
        assert rec.cost_usd >= first.cost_usd * 0.5
    assert spent_usd("hang-ups") >= sum(r.cost_usd for r in served) - 1e-6


def _provider_input(sent: dict[str, Any]) -> int:
    usage = sent["usage"]
    if "prompt_tokens" in usage:
        return usage["prompt_tokens"]
    if "promptTokenCount" in usage:
        return usage["promptTokenCount"]
    if "inputTokens" in usage:  # Bedrock Converse
        return usage["inputTokens"]
    return usage["input_tokens"] + usage.get("cache_read_input_tokens", 0)


def test_a_bedrock_call_over_the_cap_gets_the_402_in_the_aws_envelope(
    spend_gw: Any, owner: Any
) -> None:
    from devtools.testing import give_bedrock_secrets

    give_bedrock_secrets(owner.workspace, spend_gw.fake_url)
    policy(owner, "tiny cloud cap", "workspace", {"daily": "0.00001"}, workspace=owner.workspace)
    claude = anthropic.AnthropicBedrock(
        api_key=owner.plaintext_key,
        aws_region="us-east-1",
        base_url=f"{spend_gw.url}/bedrock",
        max_retries=0,
    )
    with pytest.raises(anthropic.APIStatusError) as caught:
        claude.messages.create(
            model="us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            max_tokens=20,
            messages=[{"role": "user", "content": "hi"}],
        )
    assert caught.value.status_code == 402 and "tiny cloud cap" in str(caught.value)
    assert caught.value.response.headers["x-amzn-errortype"] == "ServiceQuotaExceededException"
    (rec,) = spend_gw.records(1)
    assert rec.status == "blocked" and rec.provider == "bedrock"
    assert spend_gw.upstream_requests() == []


def test_custom_provider_and_azure_calls_count_and_are_capped(spend_gw: Any, owner: Any) -> None:
    from devtools.testing import give_azure_secrets
    from secrets_vault import services

    services.provider_set(
        workspace=owner.workspace, name="local", base_url=f"{spend_gw.fake_url}/v1"
    )
    give_azure_secrets(owner.workspace, spend_gw.fake_url)
    policy(owner, "team cap", "workspace", {"daily": "1"}, workspace=owner.workspace)
    custom = openai.OpenAI(
        base_url=f"{spend_gw.url}/providers/local/v1", api_key=owner.plaintext_key, max_retries=0
    )
    azure = openai.AzureOpenAI(
        azure_endpoint=f"{spend_gw.url}/azure",
        api_key=owner.plaintext_key,
        api_version="2024-10-21",
        max_retries=0,
    )
    messages = [{"role": "user", "content": "count me"}]
    for client in (custom, azure):
        client.chat.completions.create(model="gpt-4o-mini", max_tokens=20, messages=messages)
    records = spend_gw.records(2)
    assert {r.provider for r in records} == {"custom/local", "azure"}
    charged = sum(r.cost_usd for r in records)
    assert charged > 0
    deadline = time.monotonic() + 5
    while spent_usd("team cap") < charged and time.monotonic() < deadline:
        time.sleep(0.05)
    # (each call is counted in whole micro-dollars, rounded up)
    assert charged <= spent_usd("team cap") <= charged + 2e-6
    policy(owner, "tiny cap", "workspace", {"daily": "0.0000001"}, workspace=owner.workspace)
    spend_gw.reset()
    for client in (custom, azure):
        with pytest.raises(openai.APIStatusError) as blocked:
            client.chat.completions.create(model="gpt-4o-mini", max_tokens=20, messages=messages)
        assert blocked.value.status_code == 402
    assert spend_gw.upstream_requests() == []


# -- a stream longer than the reservation's TTL keeps its reservation -------------------------
def test_a_stream_outliving_the_reservation_ttl_keeps_its_budget_held(
    spend_gw: Any, owner: Any, settings: Any
) -> None:
    # Each call reserves ~$0.0004 (see above) and costs ~$0.00001: the cap holds one
    # reservation, not two. The stream pauses 3 s after its first event, three times the TTL:
    # without the heartbeat its reservation would expire after 1 s and the second call pass.
    settings.GATEWAY_SPEND_RESERVATION_TTL = 1.0
    policy(owner, "org", "organization", {"daily": "0.0006"})
    body = {
        "model": "gpt-4o-mini",
        "max_tokens": 400,
        "messages": [{"role": "user", "content": "x"}],
    }
    headers = {"authorization": f"Bearer {owner.plaintext_key}"}
    url = f"{spend_gw.url}/openai/v1/chat/completions"

    async def scenario() -> tuple[int, list[int], int]:
        async with aiohttp.ClientSession() as session:
            stream = await session.post(
                url,
                json={**body, "stream": True},
                headers={**headers, "x-fake-stream-pause-ms": "3000"},
            )
            assert stream.status == 200
            await stream.content.readline()  # the first event: the reservation is held
            refused = []
            for _ in range(2):  # at 1.5 s and 2.5 s: past the TTL, the stream still open
                await asyncio.sleep(1.0 if refused else 1.5)
                async with session.post(url, json=body, headers=headers) as second:
                    await second.read()
                    refused.append(second.status)
            await stream.read()
            stream.release()
            async with session.post(url, json=body, headers=headers) as after:
                await after.read()
                return stream.status, refused, after.status

    stream_status, refused, after_status = asyncio.run(scenario())
    assert stream_status == 200
    assert refused == [402, 402]  # the open stream's budget was still held
    assert after_status == 200  # settled at its actual cost: room again
    records = spend_gw.records(4)
    assert [r.status for r in records].count("blocked") == 2
