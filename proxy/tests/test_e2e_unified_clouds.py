"""The unified endpoints reach AWS Bedrock and Google Vertex AI, end to end: the official
OpenAI and Anthropic SDKs at the gateway with `bedrock/MODEL` and `vertex/MODEL`, the fake
provider standing in for bedrock-runtime (API key or SigV4, checked; its binary event stream)
and aiplatform (an access token minted from the service account at the fake's token endpoint).
"""

from __future__ import annotations

import json

import anthropic
import openai
import pytest

from devtools.fake_formats_cloud import FAKE_PROJECT
from devtools.testing import give_bedrock_secrets, give_vertex_secret
from proxy.tests.test_e2e_unified import TOOL_CHAT, _claude, _openai
from proxy.tokens import ACCESS_TOKENS

pytestmark = [pytest.mark.e2e]

SONNET = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"  # a cross-region inference profile
HAIKU = "global.anthropic.claude-haiku-4-5-20251001-v1:0"
VERTEX_CLAUDE = "claude-sonnet-4-5@20250929"
GEMINI = "gemini-2.5-flash"


@pytest.fixture
def clouds(gw, owner, django_db_blocker):
    """The workspace's Bedrock (its API key, or signed with `clouds(signed=True)`) and Vertex AI
    (a service account key), both at the fake."""
    ACCESS_TOKENS.clear()
    gw.fake.access_tokens.clear()

    def use(*, signed: bool = False) -> None:
        with django_db_blocker.unblock():
            give_bedrock_secrets(owner.workspace, gw.fake_url, signed=signed)
            give_vertex_secret(owner.workspace, gw.fake_url)

    use()
    yield use
    from secrets_vault.models import ProviderSecret

    with django_db_blocker.unblock():
        ProviderSecret.objects.filter(workspace=owner.workspace, name="VERTEX_LOCATION").delete()


def _calls(gw) -> list[dict]:
    """What reached the providers (not the token exchanges)."""
    return [r for r in gw.upstream_requests() if r["path"] != "/token"]


def _headers(upstream: dict) -> dict[str, str]:
    return {k.lower(): v for k, v in upstream["headers"]}


def _cost(usage: dict, per_input: float, per_output: float) -> float:
    return (usage["input_tokens"] * per_input + usage["output_tokens"] * per_output) / 1e6


def _vertex_path(model: str, action: str, location: str = "global", publisher: str = "") -> str:
    publisher = publisher or ("anthropic" if model.startswith("claude") else "google")
    return (
        f"/v1/projects/{FAKE_PROJECT}/locations/{location}/publishers/{publisher}/models/"
        f"{model}:{action}"
    )


def test_chat_completions_reach_claude_on_bedrock(gw, owner, clouds):
    response = _openai(gw, owner.plaintext_key).chat.completions.with_raw_response.create(
        model=f"bedrock/{SONNET}",
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "bonjour"},
        ],
        max_tokens=64,
        response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": {}}},
    )
    answer = response.parse()
    assert answer.choices[0].message.content == "Echo: bonjour"
    assert answer.model == f"bedrock/{SONNET}"
    (upstream,) = _calls(gw)
    assert upstream["path"] == f"/model/{SONNET}/invoke"
    body = json.loads(upstream["body"])
    assert body["anthropic_version"] == "bedrock-2023-05-31"
    assert "model" not in body and "stream" not in body
    assert body["system"] == [{"type": "text", "text": "be brief"}] and body["max_tokens"] == 64
    # the structured-outputs beta the translation needs travels in the body on Bedrock
    assert body["anthropic_beta"] == ["structured-outputs-2025-11-13"]
    headers = _headers(upstream)
    assert headers["authorization"] == "Bearer bedrock-api-key-fake-0000"
    assert "anthropic-version" not in headers and "anthropic-beta" not in headers
    assert owner.plaintext_key not in json.dumps(upstream)
    meta = json.loads(response.headers["x-gateway-metadata"])
    assert (meta["provider"], meta["model"]) == ("bedrock", SONNET)
    (rec,) = gw.records(1)
    assert (rec.provider, rec.model, rec.dialect, rec.name) == (
        "bedrock",
        SONNET,
        "openai",
        "ChatCompletions",
    )
    assert rec.input_tokens == upstream["usage"]["input_tokens"] == answer.usage.prompt_tokens
    assert rec.output_tokens == upstream["usage"]["output_tokens"]
    assert rec.cost_usd == pytest.approx(_cost(upstream["usage"], 3, 15))  # claude-sonnet-4-5
    assert rec.status == "success" and not rec.price_missing and not rec.usage_estimated


def test_a_chat_stream_from_bedrocks_event_stream_signed_with_sigv4(gw, owner, clouds):
    clouds(signed=True)
    chunks = list(
        _openai(gw, owner.plaintext_key).chat.completions.create(
            model=f"bedrock/{HAIKU}",
            messages=[{"role": "user", "content": "go on"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: go on"
    assert chunks[-1].usage is not None
    (upstream,) = _calls(gw)
    assert upstream["path"] == f"/model/{HAIKU}/invoke-with-response-stream"
    assert _headers(upstream)["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIAFAKE")
    (rec,) = gw.records(1)
    assert rec.stream and (rec.provider, rec.model) == ("bedrock", HAIKU)
    assert rec.input_tokens == upstream["usage"]["input_tokens"] == chunks[-1].usage.prompt_tokens
    assert rec.output_tokens == upstream["usage"]["output_tokens"]
    assert rec.cost_usd == pytest.approx(_cost(upstream["usage"], 1, 5))  # claude-haiku-4-5
    assert rec.status == "success" and not rec.usage_estimated


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_responses_reach_claude_on_bedrock(gw, owner, clouds, stream):
    client = _openai(gw, owner.plaintext_key)
    kwargs = {"model": f"bedrock/{SONNET}", "input": "salut", "instructions": "be brief"}
    if stream:
        with client.responses.stream(**kwargs) as events:
            answer = events.get_final_response()
    else:
        answer = client.responses.create(**kwargs)
    assert answer.output_text == "Echo: salut"
    (upstream,) = _calls(gw)
    assert upstream["path"].endswith("/invoke-with-response-stream" if stream else "/invoke")
    (rec,) = gw.records(1)
    assert rec.provider == "bedrock" and rec.stream == stream and rec.name == "Responses"
    assert rec.input_tokens == upstream["usage"]["input_tokens"] == answer.usage.input_tokens
    assert rec.output_tokens == upstream["usage"]["output_tokens"] == answer.usage.output_tokens
    assert rec.cost_usd == pytest.approx(_cost(upstream["usage"], 3, 15))


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_anthropic_messages_reach_claude_on_bedrock_as_sent(gw, owner, clouds, stream):
    """The caller's own API: its body goes on as sent (Bedrock's envelope around it, its betas
    in the body, less those Bedrock refuses) and the answer comes back as Bedrock gave it, the
    event stream decoded into Anthropic's server-sent events."""
    client = _claude(gw, owner.plaintext_key)
    kwargs = {
        "model": f"bedrock/{SONNET}",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi there"}]}],
        "metadata": {"user_id": "u-1"},
        "extra_headers": {"anthropic-beta": "interleaved-thinking-2025-05-14,oauth-2025-04-20"},
    }
    if stream:
        with client.messages.stream(**kwargs) as events:
            assert events.response.headers["content-type"].startswith("text/event-stream")
            text = "".join(events.text_stream)
            final = events.get_final_message()
    else:
        final = client.messages.create(**kwargs)
        text = final.content[0].text
    assert text == "Echo: hi there"
    (upstream,) = _calls(gw)
    body = json.loads(upstream["body"])
    assert body["anthropic_version"] == "bedrock-2023-05-31"
    assert body["anthropic_beta"] == ["interleaved-thinking-2025-05-14"]
    assert body["metadata"] == {"user_id": "u-1"} and "model" not in body
    (rec,) = gw.records(1)
    assert (rec.provider, rec.dialect, rec.stream) == ("bedrock", "anthropic", stream)
    assert rec.input_tokens == upstream["usage"]["input_tokens"] == final.usage.input_tokens
    assert rec.output_tokens == final.usage.output_tokens
    assert rec.cost_usd == pytest.approx(_cost(upstream["usage"], 3, 15))


def test_claude_on_vertex_for_each_caller_api(gw, owner, clouds, django_db_blocker):
    from secrets_vault.services import secret_set

    with django_db_blocker.unblock():
        secret_set(workspace=owner.workspace, name="VERTEX_LOCATION", value="us-east5")
    chat = _openai(gw, owner.plaintext_key).chat.completions.create(
        model=f"vertex/{VERTEX_CLAUDE}", messages=[{"role": "user", "content": "one"}]
    )
    assert chat.choices[0].message.content == "Echo: one"
    with _claude(gw, owner.plaintext_key).messages.stream(
        model=f"vertex/{VERTEX_CLAUDE}",
        max_tokens=30,
        messages=[{"role": "user", "content": "two"}],
        extra_headers={"anthropic-beta": "context-1m-2025-08-07"},
    ) as stream:
        assert "".join(stream.text_stream) == "Echo: two"
        final = stream.get_final_message()
    whole, streamed = _calls(gw)
    assert whole["path"] == _vertex_path(VERTEX_CLAUDE, "rawPredict", "us-east5")
    assert streamed["path"] == _vertex_path(VERTEX_CLAUDE, "streamRawPredict", "us-east5")
    for upstream in (whole, streamed):
        body = json.loads(upstream["body"])
        assert body["anthropic_version"] == "vertex-2023-10-16" and "model" not in body
        assert _headers(upstream)["authorization"].startswith("Bearer ya29.fake-")
        assert owner.plaintext_key not in json.dumps(upstream)
    assert _headers(streamed)["anthropic-beta"] == "context-1m-2025-08-07"
    assert json.loads(streamed["body"])["stream"] is True
    first, second = gw.records(2)
    assert {first.provider, second.provider} == {"vertex"}
    assert first.model == second.model == VERTEX_CLAUDE
    assert second.stream and second.input_tokens == final.usage.input_tokens
    assert second.cost_usd == pytest.approx(_cost(streamed["usage"], 3, 15))
    assert first.cost_usd == pytest.approx(_cost(whole["usage"], 3, 15))


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_gemini_on_vertex_for_responses_and_messages(gw, owner, clouds, stream):
    client = _openai(gw, owner.plaintext_key)
    kwargs = {"model": f"vertex/{GEMINI}", "input": "tres"}
    if stream:
        with client.responses.stream(**kwargs) as events:
            answer = events.get_final_response()
        with _claude(gw, owner.plaintext_key).messages.stream(
            model=f"vertex/{GEMINI}", max_tokens=20, messages=[{"role": "user", "content": "cua"}]
        ) as s:
            message = s.get_final_message()
    else:
        answer = client.responses.create(**kwargs)
        message = _claude(gw, owner.plaintext_key).messages.create(
            model=f"vertex/{GEMINI}", max_tokens=20, messages=[{"role": "user", "content": "cua"}]
        )
    assert answer.output_text == "Echo: tres" and message.content[0].text == "Echo: cua"
    action = "streamGenerateContent" if stream else "generateContent"
    calls = _calls(gw)
    assert [c["path"] for c in calls] == [_vertex_path(GEMINI, action)] * 2
    assert all(c["query"] == ("alt=sse" if stream else "") for c in calls)
    assert json.loads(calls[1]["body"])["contents"][0]["parts"] == [{"text": "cua"}]
    records = gw.records(2)
    assert all(r.provider == "vertex" and r.model == GEMINI and r.stream == stream for r in records)
    assert all(r.cost_usd > 0 and r.output_tokens > 0 and not r.usage_estimated for r in records)
    assert sorted(r.input_tokens for r in records) == sorted(
        c["usage"]["promptTokenCount"] for c in calls
    )


def test_a_route_falls_back_from_bedrock_to_vertex(gw, owner, clouds):
    from proxy.tests.test_e2e_routes import _route

    name = _route(owner, f"bedrock/anthropic.error-503,vertex/{VERTEX_CLAUDE}")
    response = _openai(gw, owner.plaintext_key).chat.completions.with_raw_response.create(
        model=f"route/{name}",
        messages=[{"role": "user", "content": "fall"}],
        tools=[TOOL_CHAT],
        stream=True,
    )
    chunks = list(response.parse())
    calls = [
        c.function.arguments
        for ch in chunks
        if ch.choices
        for c in ch.choices[0].delta.tool_calls or []
    ]
    assert json.loads("".join(calls)) == {"echo": "fall"}
    meta = json.loads(response.headers["x-gateway-metadata"])
    assert [a["model"] for a in meta["attempts"]] == ["bedrock/anthropic.error-503"]
    assert meta["attempts"][0]["status"] == 503
    paths = [c["path"] for c in _calls(gw)]
    assert paths == [
        "/model/anthropic.error-503/invoke-with-response-stream",
        _vertex_path(VERTEX_CLAUDE, "streamRawPredict"),
    ]
    failed, served = sorted(gw.records(2), key=lambda r: r.status)
    assert failed.trace_id == served.trace_id
    assert (failed.provider, failed.http_status, failed.cost_usd) == ("bedrock", 503, 0.0)
    assert (served.provider, served.model, served.status) == ("vertex", VERTEX_CLAUDE, "success")
    assert served.cost_usd > 0 and served.request_metadata["attempt"] == "2"


def test_a_missing_secret_is_424_in_the_callers_envelope(gw, owner, clouds, django_db_blocker):
    from secrets_vault.models import ProviderSecret

    with django_db_blocker.unblock():
        ProviderSecret.objects.filter(
            workspace=owner.workspace,
            name__in=["AWS_BEARER_TOKEN_BEDROCK", "VERTEX_SERVICE_ACCOUNT_JSON"],
        ).delete()
    with pytest.raises(openai.APIStatusError) as caught:
        _openai(gw, owner.plaintext_key).chat.completions.create(
            model=f"bedrock/{SONNET}", messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.status_code == 424
    assert "AWS_BEARER_TOKEN_BEDROCK" in caught.value.message
    assert caught.value.body["type"]  # OpenAI's envelope: {"error": {"message", "type", ...}}
    with pytest.raises(anthropic.APIStatusError) as refused:
        _claude(gw, owner.plaintext_key).messages.create(
            model=f"vertex/{GEMINI}", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    assert refused.value.status_code == 424
    assert refused.value.body["type"] == "error"  # Anthropic's envelope
    assert "VERTEX_SERVICE_ACCOUNT_JSON" in refused.value.message
    assert _calls(gw) == []
    records = gw.records(2)
    assert sorted(r.provider for r in records) == ["bedrock", "vertex"]
    assert all(r.http_status == 424 and r.status == "error" for r in records)


NOVA = "us.amazon.nova-pro-v1:0"
SCHEMA = {"type": "object", "properties": {"echo": {"type": "string"}}, "required": ["echo"]}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_other_bedrock_models_are_called_through_converse(gw, owner, clouds, stream):
    client = _openai(gw, owner.plaintext_key)
    kwargs = {
        "model": f"bedrock/{NOVA}",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hola"},
        ],
        "max_tokens": 40,
        "temperature": 0.2,
        "stop": ["END"],
        "tools": [TOOL_CHAT],
        "tool_choice": {"type": "function", "function": {"name": "lookup"}},
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": SCHEMA},
        },
    }
    if stream:
        with client.chat.completions.stream(**kwargs) as events:
            answer = events.get_final_completion()
    else:
        answer = client.chat.completions.create(**kwargs)
    (call,) = answer.choices[0].message.tool_calls
    assert json.loads(call.function.arguments) == {"echo": "hola"}
    assert answer.choices[0].finish_reason == "tool_calls"
    (upstream,) = _calls(gw)
    assert upstream["path"] == f"/model/{NOVA}/{'converse-stream' if stream else 'converse'}"
    body = json.loads(upstream["body"])
    assert body["system"] == [{"text": "be brief"}]
    assert body["messages"] == [{"role": "user", "content": [{"text": "hola"}]}]
    assert body["inferenceConfig"] == {
        "maxTokens": 40,
        "temperature": 0.2,
        "stopSequences": ["END"],
    }
    spec = body["toolConfig"]["tools"][0]["toolSpec"]
    structure = body["outputConfig"]["textFormat"]["structure"]["jsonSchema"]
    assert json.loads(structure["schema"]) == SCHEMA and structure["name"] == "answer"
    assert spec["inputSchema"] == {"json": TOOL_CHAT["function"]["parameters"]}
    assert body["toolConfig"]["toolChoice"] == {"tool": {"name": "lookup"}}
    (rec,) = gw.records(1)
    assert (rec.provider, rec.model, rec.stream) == ("bedrock", NOVA, stream)
    assert rec.input_tokens == upstream["usage"]["inputTokens"] > 0
    assert rec.output_tokens == upstream["usage"]["outputTokens"] > 0
    assert not rec.usage_estimated
    # amazon.nova-pro-v1:0: $0.80 / $3.20 per million
    assert rec.cost_usd == pytest.approx((rec.input_tokens * 0.8 + rec.output_tokens * 3.2) / 1e6)


def test_what_converse_cannot_express_is_a_clear_400(gw, owner, clouds):
    client = _openai(gw, owner.plaintext_key)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=f"bedrock/{NOVA}",
            messages=[{"role": "user", "content": "x"}],
            response_format={"type": "json_object"},
        )
    assert "`response_format` cannot be expressed for bedrock" in caught.value.message
    with pytest.raises(openai.BadRequestError, match="`seed` cannot be expressed for bedrock"):
        client.chat.completions.create(
            model=f"bedrock/{NOVA}", messages=[{"role": "user", "content": "x"}], seed=7
        )
    with pytest.raises(anthropic.BadRequestError, match="is not a Bedrock model id"):
        _claude(gw, owner.plaintext_key).messages.create(
            model="bedrock/meta llama", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    assert _calls(gw) == []


def test_model_access_rules_match_bedrock_and_vertex_models(gw, owner, clouds):
    from policies.modelaccess.gate import ModelAccessGate
    from policies.modelaccess.models import ModelAccessPolicy
    from policies.modelaccess.services import model_access_upsert

    model_access_upsert(
        organization=owner.organization,
        name="haiku on bedrock",
        scope="workspace",
        workspace=owner.workspace,
        models={"bedrock": "*claude-haiku-*"},
    )
    gates = gw.app.gates
    gw.app.gates = [ModelAccessGate()]
    try:
        client = _openai(gw, owner.plaintext_key)
        answer = client.chat.completions.create(
            model=f"bedrock/{HAIKU}", messages=[{"role": "user", "content": "ok"}]
        )
        assert answer.choices[0].message.content == "Echo: ok"
        with pytest.raises(openai.PermissionDeniedError) as caught:
            client.chat.completions.create(
                model=f"bedrock/{SONNET}", messages=[{"role": "user", "content": "no"}]
            )
        assert f"{SONNET!r} of bedrock is not allowed" in caught.value.message
        with pytest.raises(anthropic.PermissionDeniedError, match="of vertex is not allowed"):
            _claude(gw, owner.plaintext_key).messages.create(
                model=f"vertex/{VERTEX_CLAUDE}",
                max_tokens=5,
                messages=[{"role": "user", "content": "no"}],
            )
        assert len(_calls(gw)) == 1
    finally:
        gw.app.gates = gates
        ModelAccessPolicy.objects.filter(name="haiku on bedrock").delete()


@pytest.mark.django_db
def test_routes_accept_bedrock_and_vertex_candidates():
    from django.core.exceptions import ValidationError

    from model_routes.services import chain_check

    chain = chain_check([f"bedrock/{SONNET}", f"vertex/{GEMINI}", "azure/gpt-4o-mini"])
    assert [c["model"] for c in chain] == [
        f"bedrock/{SONNET}",
        f"vertex/{GEMINI}",
        "azure/gpt-4o-mini",
    ]
    with pytest.raises(ValidationError, match="bedrock, vertex"):
        chain_check(["sagemaker/x"])


@pytest.mark.parametrize(
    ("model", "path"),
    [
        (f"bedrock/{SONNET}", f"/model/{SONNET}/count-tokens"),
        (f"bedrock/{NOVA}", f"/model/{NOVA}/count-tokens"),
        (
            f"vertex/{VERTEX_CLAUDE}",
            _vertex_path("count-tokens", "rawPredict", publisher="anthropic"),
        ),
        (f"vertex/{GEMINI}", _vertex_path(GEMINI, "countTokens")),
    ],
    ids=["bedrock-claude", "bedrock-converse", "vertex-claude", "vertex-gemini"],
)
def test_count_tokens_reaches_each_cloud_counter(gw, owner, clouds, model, path):
    counted = _claude(gw, owner.plaintext_key).messages.count_tokens(
        model=model,
        system="be brief",
        messages=[{"role": "user", "content": "how many tokens is this"}],
    )
    assert counted.input_tokens > 0
    (upstream,) = _calls(gw)
    assert upstream["path"] == path
    body = json.loads(upstream["body"])
    if model.startswith("bedrock/") and "anthropic" in model:
        inner = gw.upstream_requests()[-1]["counted_body"]  # decoded by the fake
        assert inner["anthropic_version"] == "bedrock-2023-05-31" and "model" not in inner
        assert inner["system"] == "be brief" and inner["max_tokens"] > 0
    elif model.startswith("bedrock/"):
        assert body["input"]["converse"]["system"] == [{"text": "be brief"}]
    elif "claude" in model:
        assert body["model"] == VERTEX_CLAUDE
        assert body["anthropic_version"] == "vertex-2023-10-16"
    else:
        assert body["systemInstruction"] == {"parts": [{"text": "be brief"}]}
    (rec,) = gw.records(1)
    assert rec.provider == model.partition("/")[0] and rec.name == "CountTokens"
    assert rec.cost_usd == 0.0 and not rec.price_missing


def test_a_bedrock_stream_cut_mid_way_ends_with_the_callers_error(gw, owner, clouds):
    with pytest.raises(openai.APIError, match="interrupted"):
        for _ in _openai(gw, owner.plaintext_key).chat.completions.create(
            model=f"bedrock/{SONNET}",
            messages=[{"role": "user", "content": "a long answer please"}],
            stream=True,
            extra_headers={"x-fake-die-after": "3"},
        ):
            pass
    stream = _claude(gw, owner.plaintext_key).messages.stream(
        model=f"bedrock/{SONNET}",
        max_tokens=50,
        messages=[{"role": "user", "content": "a long answer please"}],
        extra_headers={"x-fake-die-after": "3"},
    )
    with pytest.raises(anthropic.APIStatusError, match="interrupted"), stream as events:
        "".join(events.text_stream)
    records = gw.records(2)
    assert all(r.status == "error" and "interrupted" in r.error for r in records)
    assert all(r.provider == "bedrock" and r.cost_usd > 0 for r in records)  # billed as sent


def test_a_traced_call_keeps_the_providers_request_and_the_decoded_events(
    gw, owner, clouds, django_db_blocker
):
    ws = owner.workspace
    with django_db_blocker.unblock():
        ws.trace_content = True
        ws.save(update_fields=["trace_content"])
    try:
        with _openai(gw, owner.plaintext_key).responses.stream(
            model=f"bedrock/{NOVA}", input="trace me"
        ) as events:
            assert events.get_final_response().output_text == "Echo: trace me"
        (rec,) = gw.records(1)
        assert rec.request_content["messages"] == [
            {"role": "user", "content": [{"text": "trace me"}]}
        ]
        assert rec.response_content.startswith("event: messageStart\ndata: ")
        assert "event: metadata\ndata: " in rec.response_content
        assert "\x00" not in rec.response_content
        assert owner.plaintext_key not in str(rec.request_content)
    finally:
        with django_db_blocker.unblock():
            ws.trace_content = False
            ws.save(update_fields=["trace_content"])


def test_a_vertex_token_that_cannot_be_minted_falls_back_as_a_connection_failure(
    gw, owner, clouds, django_db_blocker
):
    from devtools.fake_formats_cloud import fake_service_account
    from proxy.tests.test_e2e_routes import _route
    from secrets_vault.services import secret_set

    with django_db_blocker.unblock():  # a token endpoint that refuses every grant
        refused = fake_service_account(f"{gw.fake_url}/no-token-here")
        secret_set(
            workspace=owner.workspace,
            name="VERTEX_SERVICE_ACCOUNT_JSON",
            value=json.dumps(refused),
            base_url=gw.fake_url,
        )
    name = _route(owner, f"vertex/{VERTEX_CLAUDE},bedrock/{HAIKU}")
    response = _claude(gw, owner.plaintext_key).messages.with_raw_response.create(
        model=f"route/{name}", max_tokens=20, messages=[{"role": "user", "content": "mint"}]
    )
    assert response.parse().content[0].text == "Echo: mint"
    meta = json.loads(response.headers["x-gateway-metadata"])
    assert [(a["model"], a["status"]) for a in meta["attempts"]] == [
        (f"vertex/{VERTEX_CLAUDE}", 502)
    ]
    assert [c["path"] for c in _calls(gw)] == [f"/model/{HAIKU}/invoke"]
    failed, served = sorted(gw.records(2), key=lambda r: r.status)
    assert "VERTEX_SERVICE_ACCOUNT_JSON" in failed.error and served.provider == "bedrock"


@pytest.mark.parametrize("signed", [False, True], ids=["api-key", "sigv4"])
def test_models_lists_bedrocks_callable_models(gw, owner, clouds, signed):
    clouds(signed=signed)
    listed = [m.id for m in _openai(gw, owner.plaintext_key).models.list()]
    bedrock = sorted(m for m in listed if m.startswith("bedrock/"))
    # text models served on demand, and the cross-region profiles (not the embedding or image
    # models, nor a model served only through a profile)
    assert bedrock == [
        "bedrock/amazon.nova-pro-v1:0",
        "bedrock/anthropic.claude-3-haiku-20240307-v1:0",
        "bedrock/global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "bedrock/us.amazon.nova-pro-v1:0",
        "bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    ]
    assert "openai/gpt-4o-mini" in listed
    catalogue = ("/foundation-models", "/inference-profiles")
    assert sorted(r["path"] for r in gw.upstream_requests() if r["path"] in catalogue) == list(
        catalogue
    )
    if signed:
        assert all(
            _headers(r)["authorization"].startswith("AWS4-HMAC-SHA256 ")
            for r in gw.upstream_requests()
            if r["path"] in catalogue
        )


def test_models_lists_only_the_bedrock_models_the_key_may_call(gw, owner, clouds):
    from policies.modelaccess.gate import ModelAccessGate
    from policies.modelaccess.models import ModelAccessPolicy
    from policies.modelaccess.services import model_access_upsert

    model_access_upsert(
        organization=owner.organization,
        name="claude on bedrock",
        scope="workspace",
        workspace=owner.workspace,
        models={"bedrock": "*anthropic.claude-*"},
    )
    gates = gw.app.gates
    gw.app.gates = [ModelAccessGate()]
    try:
        listed = [m.id for m in _openai(gw, owner.plaintext_key).models.list()]
    finally:
        gw.app.gates = gates
        ModelAccessPolicy.objects.filter(name="claude on bedrock").delete()
    assert [m for m in listed if not m.startswith("route/")] == [
        "bedrock/anthropic.claude-3-haiku-20240307-v1:0",
        "bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "bedrock/global.anthropic.claude-sonnet-4-5-20250929-v1:0",
    ]


VERTEX_LISTED = [
    "vertex/claude-haiku-4-5@20251001",
    "vertex/claude-opus-4-1@20250805",
    "vertex/claude-sonnet-4-5@20250929",
    "vertex/gemini-2.0-flash-001",
    "vertex/gemini-2.5-flash",
    "vertex/gemini-2.5-pro",
]


def _catalogue(gw) -> list[dict]:
    """The requests for Model Garden's catalogue that reached the fake."""
    return [r for r in gw.upstream_requests() if r["path"].startswith("/v1beta1/publishers/")]


def test_models_lists_vertexs_gemini_and_claude_models(gw, owner, clouds):
    listed = [m.id for m in _openai(gw, owner.plaintext_key).models.list()]
    # Gemini and Claude, Claude with the version rawPredict takes; not the embedding, Live API,
    # image, video or open models Model Garden lists beside them
    assert sorted(m for m in listed if m.startswith("vertex/")) == VERTEX_LISTED
    assert "openai/gpt-4o-mini" in listed and "bedrock/amazon.nova-pro-v1:0" in listed
    asked = [(r["path"], r["query"]) for r in _catalogue(gw)]
    # every page of each publisher, the next one asked with the token the last one gave
    assert sorted(asked) == [
        ("/v1beta1/publishers/anthropic/models", "pageSize=1000"),
        ("/v1beta1/publishers/google/models", "pageSize=1000"),
        ("/v1beta1/publishers/google/models", "pageSize=1000&pageToken=page-4"),
        ("/v1beta1/publishers/google/models", "pageSize=1000&pageToken=page-8"),
    ]
    for request in _catalogue(gw):  # a token minted from the workspace's service account
        assert _headers(request)["authorization"].startswith("Bearer ya29.fake-")
        assert owner.plaintext_key not in json.dumps(request)
    assert len(gw.fake.access_tokens) == 1  # one token, minted once for both publishers
    claude = [m.id for m in _claude(gw, owner.plaintext_key).models.list()]
    assert claude == listed
    assert {r.cost_usd for r in gw.records(2)} == {0.0}


@pytest.mark.parametrize(
    "model", ["vertex/claude-sonnet-4-5@20250929", "vertex/gemini-2.0-flash-001"]
)
def test_a_listed_vertex_model_is_called_by_the_name_listed(gw, owner, clouds, model):
    client = _openai(gw, owner.plaintext_key)
    assert model in [m.id for m in client.models.list()]
    gw.reset()
    answer = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "listed"}]
    )
    assert answer.choices[0].message.content == "Echo: listed"
    name = model.removeprefix("vertex/")
    action = "rawPredict" if name.startswith("claude") else "generateContent"
    assert [c["path"] for c in _calls(gw)] == [_vertex_path(name, action)]
    (rec,) = gw.records(1)
    assert (rec.provider, rec.model, rec.status) == ("vertex", name, "success")
    assert not rec.price_missing


def test_models_lists_only_the_vertex_models_the_key_may_call(gw, owner, clouds):
    from policies.modelaccess.gate import ModelAccessGate
    from policies.modelaccess.models import ModelAccessPolicy
    from policies.modelaccess.services import model_access_upsert

    model_access_upsert(
        organization=owner.organization,
        name="gemini on vertex",
        scope="workspace",
        workspace=owner.workspace,
        models={"vertex": "gemini-2.5-*", "openai": "*"},
    )
    gates = gw.app.gates
    gw.app.gates = [ModelAccessGate()]
    try:
        client = _openai(gw, owner.plaintext_key)
        listed = [m.id for m in client.models.list()]
        with pytest.raises(openai.PermissionDeniedError, match="not allowed"):
            client.chat.completions.create(
                model=f"vertex/{VERTEX_CLAUDE}", messages=[{"role": "user", "content": "x"}]
            )
    finally:
        gw.app.gates = gates
        ModelAccessPolicy.objects.filter(name="gemini on vertex").delete()
    assert sorted(m for m in listed if m.startswith("vertex/")) == [
        "vertex/gemini-2.5-flash",
        "vertex/gemini-2.5-pro",
    ]
    assert "openai/gpt-4o-mini" in listed
    assert not [m for m in listed if m.startswith(("bedrock/", "anthropic/", "gemini/"))]


def test_a_refused_vertex_listing_leaves_vertex_out_and_is_logged(gw, owner, clouds, caplog):
    gw.fake.model_list_status = 403
    try:
        response = _openai(gw, owner.plaintext_key).models.with_raw_response.list()
    finally:
        gw.fake.model_list_status = 200
    listed = [m.id for m in response.parse()]
    assert response.http_response.status_code == 200
    assert not [m for m in listed if m.startswith("vertex/")]
    assert "openai/gpt-4o-mini" in listed and "bedrock/amazon.nova-pro-v1:0" in listed
    assert len(_catalogue(gw)) == 2  # one refused page per publisher
    assert "listing vertex models: the provider answered 403" in caplog.text


def test_a_vertex_token_that_cannot_be_minted_leaves_vertex_out_of_the_listing(
    gw, owner, clouds, django_db_blocker, caplog
):
    from devtools.fake_formats_cloud import fake_service_account
    from secrets_vault.services import secret_set

    with django_db_blocker.unblock():  # a token endpoint that refuses every grant
        secret_set(
            workspace=owner.workspace,
            name="VERTEX_SERVICE_ACCOUNT_JSON",
            value=json.dumps(fake_service_account(f"{gw.fake_url}/no-token-here")),
            base_url=gw.fake_url,
        )
    listed = [m.id for m in _openai(gw, owner.plaintext_key).models.list()]
    assert not [m for m in listed if m.startswith("vertex/")]
    assert "openai/gpt-4o-mini" in listed
    assert _catalogue(gw) == []
    assert "listing vertex models failed (no access token)" in caplog.text


def test_models_never_lists_vertex_with_another_workspaces_service_account(
    gw, owner, django_db_blocker
):
    from orgs import services as org_services
    from secrets_vault.models import ProviderSecret

    ACCESS_TOKENS.clear()
    gw.fake.access_tokens.clear()
    with django_db_blocker.unblock():
        ProviderSecret.objects.filter(
            workspace=owner.workspace, name="VERTEX_SERVICE_ACCOUNT_JSON"
        ).delete()
        other = org_services.workspace_upsert(organization=owner.organization, slug="vertex-team")
        give_vertex_secret(other, gw.fake_url)
    try:
        listed = [m.id for m in _openai(gw, owner.plaintext_key).models.list()]
    finally:
        with django_db_blocker.unblock():
            other.delete()
    assert not [m for m in listed if m.startswith("vertex/")]
    assert "openai/gpt-4o-mini" in listed
    assert not gw.fake.access_tokens and _catalogue(gw) == []  # nothing minted, nothing asked
