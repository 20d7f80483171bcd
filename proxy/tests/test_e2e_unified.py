"""The unified endpoints end to end: each SDK at <gw>/v1 (or <gw>) with `PROVIDER/MODEL`,
translated to the provider's own API and back (the fake provider records what it received)."""

from __future__ import annotations

import json

import anthropic
import openai
import pytest

pytestmark = [pytest.mark.e2e]

TOOL_CHAT = {
    "type": "function",
    "function": {
        "name": "lookup",
        "description": "look a word up",
        "parameters": {"type": "object", "properties": {"echo": {"type": "string"}}},
    },
}
TOOL_CLAUDE = {
    "name": "lookup",
    "description": "look a word up",
    "input_schema": {"type": "object", "properties": {"echo": {"type": "string"}}},
}
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="


def _openai(gw, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key, max_retries=0, timeout=10)


def _claude(gw, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0, timeout=10)


def _sent(gw, index: int = -1) -> dict:
    upstream = gw.upstream_requests()[index]
    return {**upstream, "json": json.loads(upstream["body"])}


def _header(upstream: dict, name: str) -> list[str]:
    return [v for k, v in upstream["headers"] if k.lower() == name]


@pytest.mark.parametrize("provider", ["anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-flash"])
def test_openai_sdk_chat_reaches_other_providers_with_system_and_turns(gw, owner, provider):
    client = _openai(gw, owner.plaintext_key)
    answer = client.chat.completions.create(
        model=provider,
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "bonjour"},
        ],
        temperature=0.5,
        top_p=0.9,
        max_tokens=64,
        stop=["END"],
    )
    assert answer.choices[0].message.content == "Echo: bonjour"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.model == provider
    sent = _sent(gw)
    body = sent["json"]
    if provider.startswith("anthropic"):
        assert sent["path"] == "/v1/messages"
        assert _header(sent, "x-api-key") == ["sk-upstream-anthr-0000"]
        assert _header(sent, "anthropic-version") == ["2023-06-01"]
        assert body["model"] == "claude-sonnet-4-5" and body["system"][0]["text"] == "be brief"
        assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
        assert body["max_tokens"] == 64 and body["stop_sequences"] == ["END"]
        assert body["temperature"] == 0.5 and body["top_p"] == 0.9
    else:
        assert sent["path"] == "/v1beta/models/gemini-2.5-flash:generateContent"
        assert _header(sent, "x-goog-api-key") == ["sk-upstream-googl-0000"]
        assert body["systemInstruction"] == {"parts": [{"text": "be brief"}]}
        assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
        config = body["generationConfig"]
        assert config["maxOutputTokens"] == 64 and config["stopSequences"] == ["END"]
    assert owner.plaintext_key not in json.dumps(gw.upstream_requests())
    (rec,) = gw.records(1)
    assert rec.provider == provider.split("/")[0] and rec.model == provider.split("/")[1]
    assert rec.dialect == "openai" and rec.name == "ChatCompletions"
    assert rec.input_tokens == answer.usage.prompt_tokens > 0
    assert rec.output_tokens == answer.usage.completion_tokens > 0
    assert rec.cost_usd > 0 and rec.status == "success"


@pytest.mark.parametrize("provider", ["anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-flash"])
def test_openai_sdk_tool_call_and_result_round_trip(gw, owner, provider):
    client = _openai(gw, owner.plaintext_key)
    messages = [{"role": "user", "content": "find cat"}]
    first = client.chat.completions.create(
        model=provider, messages=messages, tools=[TOOL_CHAT], tool_choice="auto"
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.function.name == "lookup" and json.loads(call.function.arguments) == {
        "echo": "find cat"
    }
    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "a small feline"},
    ]
    second = client.chat.completions.create(model=provider, messages=messages, tools=[TOOL_CHAT])
    assert second.choices[0].message.content == "Echo: find cat"
    body = _sent(gw)["json"]
    if provider.startswith("anthropic"):
        use = body["messages"][1]["content"][0]
        result = body["messages"][2]["content"][0]
        assert use == {
            "type": "tool_use",
            "id": call.id,
            "name": "lookup",
            "input": {"echo": "find cat"},
        }
        assert result["type"] == "tool_result" and result["tool_use_id"] == call.id
        assert body["tools"][0]["input_schema"] == TOOL_CHAT["function"]["parameters"]
    else:
        assert body["contents"][1]["parts"][0]["functionCall"]["name"] == "lookup"
        response = body["contents"][2]["parts"][0]["functionResponse"]
        assert response == {"name": "lookup", "response": {"result": "a small feline"}}
        declaration = body["tools"][0]["functionDeclarations"][0]
        assert declaration["parametersJsonSchema"] == TOOL_CHAT["function"]["parameters"]


def test_openai_sdk_images_structured_output_and_tool_choice_are_translated(gw, owner):
    client = _openai(gw, owner.plaintext_key)
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    content = [
        {"type": "text", "text": "describe"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://example.test/cat.png"}},
    ]
    for model in ("anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-flash"):
        client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": content}],
            response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": schema}},
            tools=[TOOL_CHAT],
            tool_choice={"type": "function", "function": {"name": "lookup"}},
        )
    claude, gemini = (json.loads(r["body"]) for r in gw.upstream_requests())
    blocks = claude["messages"][0]["content"]
    assert blocks[1]["source"] == {"type": "base64", "media_type": "image/png", "data": PNG}
    assert blocks[2]["source"] == {"type": "url", "url": "https://example.test/cat.png"}
    assert claude["output_format"] == {"type": "json_schema", "schema": schema}
    assert claude["tool_choice"] == {"type": "tool", "name": "lookup"}
    assert _header(gw.upstream_requests()[0], "anthropic-beta") == ["structured-outputs-2025-11-13"]
    parts = gemini["contents"][0]["parts"]
    assert parts[1] == {"inlineData": {"mimeType": "image/png", "data": PNG}}
    assert parts[2] == {
        "fileData": {"mimeType": "image/png", "fileUri": "https://example.test/cat.png"}
    }
    assert gemini["generationConfig"]["responseJsonSchema"] == schema
    assert gemini["generationConfig"]["responseMimeType"] == "application/json"
    assert gemini["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["lookup"]}
    }


@pytest.mark.parametrize("provider", ["openai/gpt-4o-mini", "gemini/gemini-2.5-flash"])
def test_anthropic_sdk_messages_reach_other_providers_with_tools(gw, owner, provider):
    client = _claude(gw, owner.plaintext_key)
    messages = [{"role": "user", "content": "find dog"}]
    first = client.messages.create(
        model=provider, max_tokens=100, system="be brief", messages=messages, tools=[TOOL_CLAUDE]
    )
    assert first.stop_reason == "tool_use"
    (use,) = first.content
    assert use.type == "tool_use" and use.name == "lookup" and use.input == {"echo": "find dog"}
    messages += [
        {"role": "assistant", "content": [use.model_dump()]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "canine"}],
        },
    ]
    second = client.messages.create(
        model=provider, max_tokens=100, system="be brief", messages=messages, tools=[TOOL_CLAUDE]
    )
    assert second.content[0].text == "Echo: find dog" and second.stop_reason == "end_turn"
    assert second.usage.input_tokens > 0 and second.usage.output_tokens > 0
    body = _sent(gw)["json"]
    if provider.startswith("openai"):
        assert body["messages"][0] == {"role": "system", "content": "be brief"}
        assert body["messages"][2]["tool_calls"][0]["id"] == use.id
        assert body["messages"][3] == {"role": "tool", "tool_call_id": use.id, "content": "canine"}
        assert body["max_completion_tokens"] == 100
    else:
        assert body["contents"][2]["parts"][0]["functionResponse"]["name"] == "lookup"
    records = gw.records(2)
    assert {r.provider for r in records} == {provider.split("/")[0]}
    assert all(r.cost_usd > 0 and r.dialect == "anthropic" for r in records)


def test_a_bare_model_is_refused_naming_the_expected_form(gw, owner):
    with pytest.raises(openai.BadRequestError) as caught:
        _openai(gw, owner.plaintext_key).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}]
        )
    assert "PROVIDER/MODEL" in caught.value.message
    with pytest.raises(anthropic.BadRequestError) as refused:
        _claude(gw, owner.plaintext_key).messages.create(
            model="claude-haiku-4-5", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    assert "PROVIDER/MODEL" in refused.value.message
    assert gw.upstream_requests() == []


def test_a_model_name_that_would_split_the_upstream_request_is_refused(gw, owner):
    """The model goes into Gemini's path: a line break or a space in it must never reach the
    provider as a second request or an added header (the model name check refuses it first;
    the upstream client refuses such a request line whatever reaches it: test_http_client)."""
    gw.reset()
    for model in ("gemini/x HTTP/1.1\r\nx-injected: 1\r\n\r\nGET /x", "gemini/a b"):
        with pytest.raises(openai.BadRequestError) as caught:
            _openai(gw, owner.plaintext_key).chat.completions.create(
                model=model, messages=[{"role": "user", "content": "x"}]
            )
        assert caught.value.status_code == 400
    assert gw.upstream_requests() == []
    records = gw.records(2)
    assert [r.http_status for r in records[-2:]] == [400, 400]
    assert all(not r.usage_estimated for r in records[-2:])  # nothing sent: nothing charged


def test_what_the_provider_cannot_express_is_refused_naming_the_field(gw, owner):
    with pytest.raises(openai.BadRequestError) as caught:
        _openai(gw, owner.plaintext_key).chat.completions.create(
            model="anthropic/claude-haiku-4-5",
            messages=[{"role": "user", "content": "x"}],
            n=2,
        )
    assert "`n`" in caught.value.message and "anthropic" in caught.value.message
    with pytest.raises(anthropic.BadRequestError) as refused:
        _claude(gw, owner.plaintext_key).messages.create(
            model="openai/gpt-4o-mini",
            max_tokens=50,
            messages=[
                {"role": "user", "content": "x"},
                {
                    "role": "assistant",
                    "content": [{"type": "thinking", "thinking": "hm", "signature": "s"}],
                },
                {"role": "user", "content": "y"},
            ],
        )
    assert "messages[1].content[0]" in refused.value.message
    with pytest.raises(anthropic.BadRequestError) as builtin:
        _claude(gw, owner.plaintext_key).messages.create(
            model="gemini/gemini-2.5-flash",
            max_tokens=50,
            messages=[{"role": "user", "content": "x"}],
            tools=[{"type": "web_search_20250305", "name": "web_search"}],
        )
    assert "tools[0]" in builtin.value.message
    assert gw.upstream_requests() == []


def test_provider_errors_come_back_in_the_callers_envelope(gw, owner):
    with pytest.raises(openai.RateLimitError) as caught:
        _openai(gw, owner.plaintext_key).chat.completions.create(
            model="anthropic/error-429", messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.body["message"] == "fake provider error 429"
    assert caught.value.body["type"] == "rate_limit_error"
    with pytest.raises(anthropic.InternalServerError) as failed:
        _claude(gw, owner.plaintext_key).messages.create(
            model="openai/error-503", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    assert failed.value.status_code == 503 and "fake provider error 503" in failed.value.message
    records = gw.records(2)
    assert sorted(r.http_status for r in records) == [429, 503]
    assert all(r.status == "error" for r in records)


def test_the_callers_own_provider_goes_through_untranslated(gw, owner):
    answer = _openai(gw, owner.plaintext_key).chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "native"}], seed=3
    )
    assert answer.choices[0].message.content == "Echo: native"
    sent = _sent(gw)
    assert sent["path"] == "/v1/chat/completions"
    assert sent["json"] == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "native"}],
        "seed": 3,
    }
    (rec,) = gw.records(1)
    assert rec.model == "gpt-4o-mini" and rec.cost_usd > 0


def test_an_outsider_key_is_refused_on_the_unified_endpoints(gw):
    with pytest.raises(openai.AuthenticationError):
        _openai(gw, "gw_sk_not-a-key").chat.completions.create(
            model="anthropic/claude-haiku-4-5", messages=[{"role": "user", "content": "x"}]
        )
    with pytest.raises(anthropic.AuthenticationError):
        _claude(gw, "gw_sk_not-a-key").messages.create(
            model="openai/gpt-4o-mini", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )


@pytest.mark.django_db
def test_the_price_table_knows_the_models_called_through_translation():
    from pricing.table import PriceTable

    table = PriceTable.load()
    assert all(table.get(m) for m in ("gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-flash"))


def test_models_lists_every_provider_prefixed_in_each_sdks_shape(gw, owner):
    listed = [m.id for m in _openai(gw, owner.plaintext_key).models.list()]
    assert "openai/gpt-4o-mini" in listed and "anthropic/claude-sonnet-4-5" in listed
    assert "gemini/gemini-2.5-flash" in listed
    assert all(m.partition("/")[0] in ("openai", "anthropic", "gemini") for m in listed)
    claude = [m.id for m in _claude(gw, owner.plaintext_key).models.list()]
    assert claude == listed
    paths = sorted(r["path"] for r in gw.upstream_requests())
    assert paths == ["/v1/models"] * 4 + ["/v1beta/models"] * 2
    assert {r.cost_usd for r in gw.records(2)} == {0.0}


def test_the_cache_breakdown_reaches_the_caller_and_the_record(gw, owner):
    usage = {"input_tokens": 10, "cache_read_input_tokens": 50, "cache_creation_input_tokens": 30}
    answer = _openai(gw, owner.plaintext_key).chat.completions.create(
        model="anthropic/claude-sonnet-4-5",
        messages=[{"role": "user", "content": "cached"}],
        extra_headers={"x-fake-usage": json.dumps(usage)},
    )
    assert answer.usage.prompt_tokens == 90
    assert answer.usage.prompt_tokens_details.cached_tokens == 50
    (rec,) = gw.records(1)
    assert (rec.input_tokens, rec.cache_read_tokens, rec.cache_write_tokens) == (90, 50, 30)
    gw.reset()
    claude = _claude(gw, owner.plaintext_key).messages.create(
        model="openai/gpt-4o-mini",
        max_tokens=20,
        messages=[{"role": "user", "content": "cached"}],
        extra_headers={
            "x-fake-usage": json.dumps(
                {"prompt_tokens": 40, "prompt_tokens_details": {"cached_tokens": 32}}
            )
        },
    )
    assert claude.usage.input_tokens == 8 and claude.usage.cache_read_input_tokens == 32
    (rec,) = gw.records(1)
    assert (rec.input_tokens, rec.cache_read_tokens) == (40, 32)
