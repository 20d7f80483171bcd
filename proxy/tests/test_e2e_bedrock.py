"""AWS Bedrock end to end: anthropic.AnthropicBedrock and botocore pointed at the gateway with
the gateway key as their Bedrock API key; upstream, the workspace's API key or its access key
pair (SigV4, recomputed and checked by the fake provider)."""

from __future__ import annotations

import base64
import json

import anthropic
import httpx
import pytest
from botocore.eventstream import EventStreamBuffer

from devtools.testing import give_bedrock_secrets

pytestmark = [pytest.mark.e2e]

SONNET = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"  # a cross-region inference profile


@pytest.fixture
def bedrock(gw, owner, django_db_blocker):
    def use(*, signed: bool = False, session_token: bool = False) -> None:
        with django_db_blocker.unblock():
            give_bedrock_secrets(
                owner.workspace, gw.fake_url, signed=signed, session_token=session_token
            )

    use()
    return use


def _client(gw, key: str, **kwargs) -> anthropic.AnthropicBedrock:
    return anthropic.AnthropicBedrock(
        api_key=key,
        aws_region="us-east-1",
        base_url=f"{gw.url}/bedrock",
        max_retries=0,
        timeout=10,
        **kwargs,
    )


def _headers(upstream: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in upstream["headers"]:
        out.setdefault(k.lower(), []).append(v)
    return out


def _sonnet_cost(usage: dict) -> float:
    """claude-sonnet-4-5's list price: $3 / $15 per million input / output tokens."""
    return round((usage["input_tokens"] * 3 + usage["output_tokens"] * 15) / 1e6, 9)


def test_invoke_with_a_cross_region_profile_and_claude_code_betas(gw, owner, bedrock):
    """Claude Code sends its betas as anthropic-beta headers: they reach Bedrock in the body's
    anthropic_beta list, less the first-party-only ones Bedrock refuses."""
    client = _client(
        gw,
        owner.plaintext_key,
        default_headers={
            "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14,"
            "oauth-2025-04-20",
            "x-app": "cli",
        },
    )
    answer = client.messages.create(
        model=SONNET, max_tokens=100, messages=[{"role": "user", "content": "bonjour"}]
    )
    assert answer.content[0].text == "Echo: bonjour"
    (upstream,) = gw.upstream_requests()
    assert upstream["path"] == "/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke"
    body = json.loads(upstream["body"])
    assert body["anthropic_version"] == anthropic._constants.ANTHROPIC_API_VERSION  # the SDK's
    assert body["anthropic_beta"] == ["claude-code-20250219", "interleaved-thinking-2025-05-14"]
    assert "model" not in body and "stream" not in body
    headers = _headers(upstream)
    assert headers["authorization"] == ["Bearer bedrock-api-key-fake-0000"]
    assert "anthropic-beta" not in headers
    assert owner.plaintext_key not in json.dumps(upstream)
    (rec,) = gw.records(1)
    assert (rec.provider, rec.dialect, rec.name, rec.model) == (
        "bedrock",
        "anthropic",
        "Messages",
        SONNET,
    )
    assert rec.input_tokens == upstream["usage"]["input_tokens"] == answer.usage.input_tokens
    assert rec.output_tokens == upstream["usage"]["output_tokens"]
    assert rec.cost_usd == pytest.approx(_sonnet_cost(upstream["usage"]))
    assert not rec.price_missing and not rec.usage_estimated


def test_stream_signed_with_sigv4_and_a_session_token(gw, owner, bedrock):
    bedrock(signed=True, session_token=True)
    client = _client(gw, owner.plaintext_key)
    with client.messages.stream(
        model="eu.anthropic.claude-haiku-4-5-20251001-v1:0",
        max_tokens=50,
        messages=[{"role": "user", "content": "go on"}],
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Echo: go on"
    (upstream,) = gw.upstream_requests()
    assert upstream["path"].endswith("/invoke-with-response-stream")
    headers = _headers(upstream)
    assert headers["authorization"][0].startswith("AWS4-HMAC-SHA256 Credential=AKIAFAKE")
    assert headers["x-amz-security-token"] == ["FakeSessionToken0000"]
    (rec,) = gw.records(1)
    assert rec.stream and rec.model.startswith("eu.anthropic.")
    assert rec.input_tokens == upstream["usage"]["input_tokens"] == final.usage.input_tokens
    assert rec.output_tokens == upstream["usage"]["output_tokens"] == final.usage.output_tokens
    # claude-haiku-4-5: $1 / $5 per million
    expected = (
        upstream["usage"]["input_tokens"] * 1 + upstream["usage"]["output_tokens"] * 5
    ) / 1e6
    assert rec.cost_usd == pytest.approx(expected)
    assert not rec.usage_estimated


def test_stream_usage_with_cache_counts_is_read_from_the_binary_frames(gw, owner, bedrock):
    """Raw bytes through the gateway: the AWS event stream reaches the client unchanged."""
    with httpx.stream(
        "POST",
        f"{gw.url}/bedrock/model/{SONNET}/invoke-with-response-stream",
        headers={
            "authorization": f"Bearer {owner.plaintext_key}",
            "x-fake-usage": json.dumps({"cache_read_input_tokens": 40}),
        },
        json={
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 20,
            "messages": [{"role": "user", "content": "cached"}],
        },
        timeout=10,
    ) as response:
        assert response.headers["content-type"] == "application/vnd.amazon.eventstream"
        buffer = EventStreamBuffer()
        for chunk in response.iter_bytes():
            buffer.add_data(chunk)
        events = [json.loads(base64.b64decode(json.loads(m.payload)["bytes"])) for m in buffer]
    assert events[0]["type"] == "message_start" and events[-1]["type"] == "message_stop"
    (upstream,) = gw.upstream_requests()
    (rec,) = gw.records(1)
    usage = upstream["usage"]
    assert rec.cache_read_tokens == 40
    assert rec.input_tokens == usage["input_tokens"] + 40
    assert rec.output_tokens == usage["output_tokens"]


def test_errors_come_in_the_aws_envelope(gw, owner, bedrock):
    client = _client(gw, owner.plaintext_key)
    with pytest.raises(anthropic.RateLimitError):  # the provider's 429 relayed
        client.messages.create(
            model="error-429", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    refused = httpx.post(
        f"{gw.url}/bedrock/model/meta.llama3-70b-instruct-v1:0/invoke",
        headers={"authorization": f"Bearer {owner.plaintext_key}"},
        json={"prompt": "hello", "max_gen_len": 10},
        timeout=10,
    )
    assert refused.status_code == 400
    assert refused.headers["x-amzn-errortype"] == "ValidationException"
    assert "use Converse" in refused.json()["message"]
    unknown = httpx.post(
        f"{gw.url}/bedrock/model/{SONNET}/invoke",
        headers={"authorization": "Bearer not-a-gateway-key"},
        json={"messages": []},
        timeout=10,
    )
    assert unknown.status_code == 401 and set(unknown.json()) == {"message"}
    assert unknown.headers["x-amzn-errortype"] == "UnrecognizedClientException"


def test_missing_secrets_name_what_to_set(gw, owner, bedrock, django_db_blocker):
    from secrets_vault.models import ProviderSecret

    with django_db_blocker.unblock():
        ProviderSecret.objects.filter(
            workspace=owner.workspace, name="AWS_BEARER_TOKEN_BEDROCK"
        ).delete()
    client = _client(gw, owner.plaintext_key)
    with pytest.raises(anthropic.APIStatusError) as raised:
        client.messages.create(
            model=SONNET, max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert raised.value.status_code == 424
    assert "AWS_BEARER_TOKEN_BEDROCK" in raised.value.message
    assert gw.upstream_requests() == []


@pytest.mark.django_db
def test_bedrock_ids_are_priced_as_their_anthropic_models():
    from pricing.table import PriceTable
    from proxy import providers

    table = PriceTable.load()

    def price(model: str):
        return table.get(providers.price_name("bedrock", model))

    assert price(SONNET).model == "claude-sonnet-4-5"
    assert price("anthropic.claude-sonnet-4-20250514-v1:0").model == "claude-sonnet-4-20250514"
    assert price("apac.anthropic.claude-3-5-haiku-20241022-v1:0").model == "claude-3-5-haiku"
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/global.anthropic.claude-opus-4-5-20251101-v1:0"
    assert price(arn).model == "claude-opus-4-5"


@pytest.fixture
def runtime(gw, owner, bedrock):
    """botocore's bedrock-runtime client with the gateway key as its Bedrock API key. botocore
    sends a bearer token over HTTPS only (AWS_BEARER_TOKEN_BEDROCK): on the tests' plain
    loopback HTTP the client is unsigned and the same Authorization header is added to it."""
    import botocore.session
    from botocore import UNSIGNED
    from botocore.config import Config

    client = botocore.session.get_session().create_client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=f"{gw.url}/bedrock",
        config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}),
    )

    def bearer(request, **kwargs):
        request.headers["Authorization"] = f"Bearer {owner.plaintext_key}"

    client.meta.events.register("before-sign.bedrock-runtime.*", bearer)
    return client


NOVA = "us.amazon.nova-lite-v1:0"


def test_converse_through_botocore(gw, owner, runtime):
    answer = runtime.converse(
        modelId=NOVA,
        messages=[{"role": "user", "content": [{"text": "hola"}]}],
        inferenceConfig={"maxTokens": 50},
    )
    assert answer["output"]["message"]["content"][0]["text"] == "Echo: hola"
    (upstream,) = gw.upstream_requests()
    assert upstream["path"] == f"/model/{NOVA}/converse"
    assert _headers(upstream)["authorization"] == ["Bearer bedrock-api-key-fake-0000"]
    (rec,) = gw.records(1)
    usage = upstream["usage"]
    assert (rec.provider, rec.dialect, rec.name) == ("bedrock", "bedrock", "Converse")
    assert rec.input_tokens == usage["inputTokens"] == answer["usage"]["inputTokens"]
    assert rec.output_tokens == usage["outputTokens"]
    # amazon.nova-lite-v1:0: $0.06 / $0.24 per million
    expected = (usage["inputTokens"] * 0.06 + usage["outputTokens"] * 0.24) / 1e6
    assert rec.cost_usd == pytest.approx(expected)


def test_converse_stream_signed_with_cache_counts(gw, owner, bedrock, runtime):
    bedrock(signed=True)
    answer = runtime.converse_stream(
        modelId=NOVA,
        messages=[{"role": "user", "content": [{"text": "stream it"}]}],
        system=[{"text": "be brief"}],
    )
    events = list(answer["stream"])
    text = "".join(
        e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e
    )
    assert text == "Echo: stream it"
    metadata = next(e["metadata"] for e in events if "metadata" in e)
    (upstream,) = gw.upstream_requests()
    assert _headers(upstream)["authorization"][0].startswith("AWS4-HMAC-SHA256 ")
    (rec,) = gw.records(1)
    assert rec.stream and rec.name == "ConverseStream"
    assert rec.input_tokens == metadata["usage"]["inputTokens"] == upstream["usage"]["inputTokens"]
    assert rec.output_tokens == metadata["usage"]["outputTokens"]
    assert rec.cost_usd > 0 and not rec.usage_estimated


def test_converse_stream_cut_by_the_provider_ends_with_an_exception(gw, owner, runtime):
    import botocore.exceptions

    def cut(request, **kwargs):  # the fake drops the connection after 2 events
        request.headers["x-fake-fault"] = "drop-after:2"

    runtime.meta.events.register("before-sign.bedrock-runtime.ConverseStream", cut)
    answer = runtime.converse_stream(
        modelId=NOVA, messages=[{"role": "user", "content": [{"text": "a b c d e f"}]}]
    )
    events = []
    with pytest.raises(botocore.exceptions.EventStreamError, match="interrupted"):
        for event in answer["stream"]:
            events.append(event)
    assert len(events) == 2
    (rec,) = gw.records(1)
    assert rec.status == "error" and "interrupted" in rec.error
    assert rec.usage_estimated and rec.input_tokens > 0  # never free


def test_claude_code_on_bedrock_as_export_agent_config_sets_it_up(gw, owner, bedrock):
    """The exported settings drive the client the way Claude Code reads them: Bedrock mode at
    ANTHROPIC_BEDROCK_BASE_URL, AWS auth skipped, ANTHROPIC_AUTH_TOKEN as the bearer."""
    from rollout.agent_config import build_agent_files

    (settings,) = build_agent_files(
        agent="claude-code-bedrock",
        base_url=gw.url,
        key=owner.plaintext_key,
        models=[SONNET],
    )
    env = json.loads(settings.content)["env"]
    client = anthropic.AnthropicBedrock(
        api_key=env["ANTHROPIC_AUTH_TOKEN"],
        aws_region=env["AWS_REGION"],
        base_url=env["ANTHROPIC_BEDROCK_BASE_URL"],
        max_retries=0,
        timeout=10,
    )
    with client.messages.stream(
        model=env["ANTHROPIC_MODEL"],
        max_tokens=64,
        messages=[{"role": "user", "content": "hello from claude code"}],
        extra_headers={
            "anthropic-beta": "claude-code-20250219,fine-grained-tool-streaming-2025-05-14"
        },
    ) as stream:
        assert "".join(stream.text_stream) == "Echo: hello from claude code"
    (upstream,) = gw.upstream_requests()
    assert json.loads(upstream["body"])["anthropic_beta"] == [
        "claude-code-20250219",
        "fine-grained-tool-streaming-2025-05-14",
    ]
    (rec,) = gw.records(1)
    assert rec.model == SONNET and rec.cost_usd == pytest.approx(_sonnet_cost(upstream["usage"]))


def test_count_tokens_through_botocore_both_shapes(gw, owner, runtime):
    """Bedrock's CountTokens: an InvokeModel body (base64 on the wire: the gateway decodes it
    for the policies and encodes it again) or a Converse request; free."""
    body = {"max_tokens": 10, "messages": [{"role": "user", "content": "count me"}], "model": "x"}
    counted = runtime.count_tokens(
        modelId=SONNET, input={"invokeModel": {"body": json.dumps(body).encode()}}
    )
    assert counted["inputTokens"] > 0
    conversed = runtime.count_tokens(
        modelId=SONNET,
        input={"converse": {"messages": [{"role": "user", "content": [{"text": "x"}]}]}},
    )
    assert conversed["inputTokens"] > 0
    first = gw.upstream_requests()[0]
    assert first["path"] == f"/model/{SONNET}/count-tokens"
    assert first["counted_body"]["anthropic_version"] == "bedrock-2023-05-31"
    assert "model" not in first["counted_body"]
    records = gw.records(2)
    assert {(r.name, r.cost_usd, r.price_missing) for r in records} == {("CountTokens", 0, False)}


def test_a_traced_stream_keeps_the_decoded_events(gw, owner, bedrock, django_db_blocker):
    ws = owner.workspace
    with django_db_blocker.unblock():
        ws.trace_content = True
        ws.save(update_fields=["trace_content"])
    try:
        with _client(gw, owner.plaintext_key).messages.stream(
            model=SONNET, max_tokens=20, messages=[{"role": "user", "content": "trace me"}]
        ) as stream:
            assert "".join(stream.text_stream) == "Echo: trace me"
        (rec,) = gw.records(1)
        assert rec.response_content.startswith('event: chunk\ndata: {"type":"message_start"')
        assert '"text_delta"' in rec.response_content and '"message_stop"' in rec.response_content
        assert "\x00" not in rec.response_content
    finally:
        with django_db_blocker.unblock():
            ws.trace_content = False
            ws.save(update_fields=["trace_content"])
