"""The official SDKs (openai, anthropic, google-genai) through a real gateway: the body each SDK
sends reaches the provider byte for byte, and the SDK gets the provider's answer unchanged."""

from __future__ import annotations

import base64

import anthropic
import httpx
import httpx2
import openai
import pytest
from google import genai
from google.genai import types as genai_types

from tests.conformance import replay

pytestmark = [pytest.mark.e2e]

TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


class Capture:
    """An httpx client whose request hook keeps what the SDK put on the wire."""

    def __init__(self, http=httpx) -> None:
        # anthropic's SDK ships its own fork of httpx (httpx2) and refuses an httpx.Client.
        self.sent: list[httpx.Request] = []
        self.client = http.Client(event_hooks={"request": [self._keep]}, timeout=15)

    def _keep(self, request: httpx.Request) -> None:
        request.read()
        self.sent.append(request)


def _check_forwarded(gateway, capture: Capture, key: str) -> None:
    """Each SDK request reached the provider with the same body bytes, path and query."""
    received = gateway.upstream_requests()
    assert len(received) == len(capture.sent)
    for sent, got in zip(capture.sent, received, strict=True):
        assert base64.b64decode(got["body_b64"]) == sent.content
        assert sent.url.path.endswith(got["path"])
        assert got["query"] == sent.url.query.decode()
        assert key not in str(got)


def _direct(gateway, sent: httpx.Request, auth: tuple[str, str], prefix: str) -> replay.Exchange:
    headers = {
        k: v
        for k, v in sent.headers.items()
        if k.lower()
        not in (
            "authorization",
            "x-api-key",
            "x-goog-api-key",
            "host",
            "content-length",
            "accept-encoding",
            "connection",
        )
    }
    headers[auth[0]] = auth[1]
    path = sent.url.raw_path.decode().removeprefix(prefix)
    return replay.send(gateway.fake_url, sent.method, path, headers, sent.content)


@pytest.fixture
def ready(traced_servers, world):
    traced_servers.fake.requests.clear()
    return traced_servers


@pytest.fixture
def key(world) -> str:
    return world.keys["admin"]


def test_openai_sdk_chat_tools_stream_and_responses(ready, key):
    capture = Capture()
    client = openai.OpenAI(
        base_url=f"{ready.url}/openai/v1",
        api_key=key,
        http_client=capture.client,
        max_retries=0,
    )
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris?"},
        ],
        tools=[TOOL],
        tool_choice="auto",
        temperature=0.2,
        user="dev-42",
    )
    completion = raw.parse()
    assert completion.choices[0].message.tool_calls[0].function.name == "get_weather"
    response = client.responses.create(
        model="gpt-5",
        input="hello",
        store=False,
        include=["reasoning.encrypted_content"],
        reasoning={"effort": "low"},
    )
    assert response.output_text == "Echo: hello"
    _check_forwarded(ready, capture, key)
    direct = _direct(
        ready, capture.sent[0], ("authorization", "Bearer sk-upstream-direct"), "/openai"
    )
    assert replay.without_timestamps(raw.http_response.content) == replay.without_timestamps(
        direct.body
    )


def test_openai_sdk_chat_stream_with_usage(ready, key):
    capture = Capture()
    client = openai.OpenAI(
        base_url=f"{ready.url}/openai/v1",
        api_key=key,
        http_client=capture.client,
        max_retries=0,
    )
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "count"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "Echo: count"
    _check_forwarded(ready, capture, key)


def test_anthropic_sdk_messages_cache_control_count_tokens_and_stream(ready, key):
    capture = Capture(httpx2)
    client = anthropic.Anthropic(
        base_url=f"{ready.url}/anthropic",
        api_key=key,
        http_client=capture.client,
        max_retries=0,
    )
    system = [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}]
    raw = client.messages.with_raw_response.create(
        model="claude-haiku-4-5",
        max_tokens=64,
        system=system,
        messages=[
            {
                "role": "user",
                "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}],
            }
        ],
        metadata={"user_id": "dev-42"},
    )
    assert raw.parse().content[0].text == "Echo: hi"
    count = client.messages.count_tokens(
        model="claude-haiku-4-5", messages=[{"role": "user", "content": "hi"}]
    )
    assert count.input_tokens > 0
    with client.beta.messages.stream(
        model="claude-haiku-4-5",
        max_tokens=64,
        messages=[{"role": "user", "content": "stream"}],
        betas=["interleaved-thinking-2025-05-14"],
    ) as stream:
        assert "".join(stream.text_stream) == "Echo: stream"
    _check_forwarded(ready, capture, key)
    beta = {k.lower(): v for k, v in ready.upstream_requests()[-1]["headers"]}
    assert beta["anthropic-beta"] == "interleaved-thinking-2025-05-14"
    direct = _direct(ready, capture.sent[0], ("x-api-key", "sk-upstream-direct"), "/anthropic")
    assert raw.http_response.content == direct.body


def test_google_genai_sdk_generate_count_and_stream(ready, key):
    capture = Capture()
    client = genai.Client(
        api_key=key,
        http_options=genai_types.HttpOptions(
            base_url=f"{ready.url}/gemini", httpx_client=capture.client
        ),
    )
    answer = client.models.generate_content(
        model="gemini-2.5-flash",
        contents="hello",
        config=genai_types.GenerateContentConfig(system_instruction="Be brief.", temperature=0.1),
    )
    assert answer.text == "Echo: hello"
    assert client.models.count_tokens(model="gemini-2.5-flash", contents="hello").total_tokens > 0
    streamed = "".join(
        c.text or ""
        for c in client.models.generate_content_stream(model="gemini-2.5-flash", contents="stream")
    )
    assert streamed == "Echo: stream"
    _check_forwarded(ready, capture, key)
    received = ready.upstream_requests()
    assert all("key" not in r["query"] for r in received)
    headers = {k.lower(): v for k, v in received[0]["headers"]}
    assert headers["x-goog-api-key"].startswith("sk-upstream-")
    direct = _direct(ready, capture.sent[0], ("x-goog-api-key", "sk-upstream-direct"), "/gemini")
    through = replay.send(
        ready.url,
        "POST",
        capture.sent[0].url.raw_path.decode(),
        {"x-goog-api-key": key, "content-type": "application/json"},
        capture.sent[0].content,
    )
    assert through.body == direct.body
