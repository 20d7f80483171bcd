"""Anthropic and Gemini routes end to end with the official SDKs."""

from __future__ import annotations

import json

import anthropic
import pytest
from google import genai
from google.genai import types

pytestmark = [pytest.mark.e2e]


def _claude(gw, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=f"{gw.url}/anthropic", api_key=key, max_retries=0, timeout=10
    )


def _gemini(gw, key: str, version: str = "v1beta") -> genai.Client:
    return genai.Client(
        api_key=key,
        http_options=types.HttpOptions(base_url=f"{gw.url}/gemini", api_version=version),
    )


def _headers(upstream: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in upstream["headers"]:
        out.setdefault(k.lower(), []).append(v)
    return out


def test_anthropic_messages_with_beta_headers_verbatim(gw, owner):
    client = _claude(gw, owner.plaintext_key)
    answer = client.messages.create(
        model="claude-sonnet-4-5-20250929",
        max_tokens=100,
        messages=[{"role": "user", "content": "bonjour"}],
        extra_headers={"anthropic-beta": "prompt-caching-2024-07-31,some-future-beta-2030-01-01"},
        extra_query={"beta": "true"},
    )
    assert answer.content[0].text == "Echo: bonjour"
    (upstream,) = gw.upstream_requests()
    headers = _headers(upstream)
    assert headers["x-api-key"] == ["sk-upstream-anthr-0000"]
    assert headers["anthropic-beta"] == ["prompt-caching-2024-07-31,some-future-beta-2030-01-01"]
    assert "anthropic-version" in headers and "authorization" not in headers
    assert upstream["query"] == "beta=true"
    assert owner.plaintext_key not in json.dumps(upstream)
    (rec,) = gw.records(1)
    assert rec.input_tokens == answer.usage.input_tokens and rec.cost_usd > 0


def test_anthropic_stream_and_tool_use(gw, owner):
    client = _claude(gw, owner.plaintext_key)
    with client.messages.stream(
        model="claude-haiku-4-5", max_tokens=50, messages=[{"role": "user", "content": "go"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Echo: go" and final.usage.output_tokens > 0
    tools = [{"name": "grep", "description": "search", "input_schema": {"type": "object"}}]
    answer = client.messages.create(
        model="claude-haiku-4-5",
        max_tokens=50,
        tools=tools,
        messages=[{"role": "user", "content": "find it"}],
    )
    assert answer.stop_reason == "tool_use" and answer.content[0].input == {"echo": "find it"}
    records = gw.records(2)
    streamed = next(r for r in records if r.stream)
    assert streamed.output_tokens == final.usage.output_tokens
    assert streamed.input_tokens == final.usage.input_tokens


def test_anthropic_count_tokens_is_forwarded_and_models_listed(gw, owner):
    client = _claude(gw, owner.plaintext_key)
    counted = client.messages.count_tokens(
        model="claude-sonnet-4-5", messages=[{"role": "user", "content": "count these words"}]
    )
    assert counted.input_tokens > 0
    assert [m.id for m in client.models.list()]
    paths = [r["path"] for r in gw.upstream_requests()]
    assert paths == ["/v1/messages/count_tokens", "/v1/models"]
    assert {r.cost_usd for r in gw.records(2)} == {0.0}


def test_gemini_generate_stream_count_and_list(gw, owner):
    client = _gemini(gw, owner.plaintext_key)
    answer = client.models.generate_content(model="gemini-2.5-flash", contents="ciao")
    assert answer.text == "Echo: ciao"
    text = "".join(
        c.text or ""
        for c in client.models.generate_content_stream(model="gemini-2.5-flash", contents="more")
    )
    assert text == "Echo: more"
    assert client.models.count_tokens(model="gemini-2.5-flash", contents="abc").total_tokens > 0
    requests = gw.upstream_requests()
    assert requests[1]["path"] == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert requests[1]["query"] == "alt=sse"
    for upstream in requests:
        assert _headers(upstream)["x-goog-api-key"] == ["sk-upstream-googl-0000"]
        assert owner.plaintext_key not in json.dumps(upstream)
    records = gw.records(3)
    streamed = next(r for r in records if r.stream)
    assert streamed.output_tokens > 0 and streamed.cost_usd > 0


def test_gemini_v1_and_function_calls(gw, owner):
    client = _gemini(gw, owner.plaintext_key, version="v1")
    tool = types.Tool(
        function_declarations=[types.FunctionDeclaration(name="weather", description="w")]
    )
    answer = client.models.generate_content(
        model="gemini-2.5-pro", contents="Paris?", config=types.GenerateContentConfig(tools=[tool])
    )
    assert answer.function_calls[0].name == "weather"
    assert gw.upstream_requests()[0]["path"] == "/v1/models/gemini-2.5-pro:generateContent"


def test_a_key_in_the_query_string_authenticates_and_is_removed(gw, owner):
    import urllib.request

    url = f"{gw.url}/gemini/v1beta/models/gemini-2.5-flash:generateContent?key={owner.plaintext_key}&foo=bar"
    body = json.dumps({"contents": [{"role": "user", "parts": [{"text": "q"}]}]}).encode()
    req = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
        meta = json.loads(resp.headers["x-gateway-metadata"])
    assert meta["outcome"] == "success" and meta["provider"] == "gemini"
    assert meta["model"] == "gemini-2.5-flash" and meta["trace_id"]
    (upstream,) = gw.upstream_requests()
    assert upstream["query"] == "foo=bar"
    assert owner.plaintext_key not in json.dumps(upstream)


@pytest.mark.django_db
def test_the_price_table_knows_the_claude_and_gemini_models_used_here():
    from pricing.table import PriceTable

    table = PriceTable.load()
    models = (
        "claude-sonnet-4-5-20250929",
        "claude-haiku-4-5",
        "gemini-2.5-flash",
        "gemini-2.5-pro",
    )
    assert all(table.get(m) for m in models)


def test_gemini_stream_without_sse_is_a_json_array_with_usage_read_at_the_end(gw, owner):
    import urllib.request

    url = f"{gw.url}/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    body = json.dumps(
        {"contents": [{"role": "user", "parts": [{"text": "array please"}]}]}
    ).encode()
    headers = {"content-type": "application/json", "x-goog-api-key": owner.plaintext_key}
    req = urllib.request.Request(url, data=body, headers=headers)
    with urllib.request.urlopen(req, timeout=10) as resp:
        chunks = json.loads(resp.read())
    assert (
        "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks)
        == "Echo: array please"
    )
    (rec,) = gw.records(1)
    assert rec.stream and rec.output_tokens == chunks[-1]["usageMetadata"]["candidatesTokenCount"]
    assert rec.cost_usd > 0
