"""The translation modules on their own: streams re-expressed incrementally, whatever the chunking."""

from __future__ import annotations

import orjson
import pytest

from devtools.fake_formats import openai_stream
from devtools.fake_formats_anthropic_gemini import anthropic_stream, gemini_stream
from proxy.translate import Translation
from proxy.translate.sse import EventReader

PROVIDER_STREAMS = {
    "openai": lambda body: [
        *openai_stream({**body, "stream_options": {"include_usage": True}}),
        b"data: [DONE]\n\n",
    ],
    "anthropic": anthropic_stream,
    "gemini": lambda body: gemini_stream(body, "gemini-2.5-flash"),
}
CALLER_BODIES = {
    "chat": {"model": "x", "messages": [{"role": "user", "content": "stream this text"}]},
    "responses": {"model": "x", "input": "stream this text"},
    "messages": {
        "model": "x",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "stream this text"}],
    },
}
PAIRS = [(a, p) for a in CALLER_BODIES for p in PROVIDER_STREAMS if (a, p) != ("chat", "openai")]
PAIRS.remove(("messages", "anthropic"))
PAIRS.remove(("responses", "openai"))


def _translation(api: str, provider: str) -> tuple[Translation, list[bytes]]:
    translation = Translation(api, provider, "m", f"{provider}/m")
    sent = orjson.loads(translation.body({**CALLER_BODIES[api], "stream": True}))
    return translation, PROVIDER_STREAMS[provider](sent)


@pytest.mark.parametrize(("api", "provider"), PAIRS)
def test_a_stream_translates_the_same_whatever_the_chunking(api, provider):
    whole, events = _translation(api, provider)
    expected = b"".join(whole.feed(e) for e in events) + whole.flush()
    split, events = _translation(api, provider)
    data = b"".join(events)
    got = b"".join(split.feed(data[i : i + 7]) for i in range(0, len(data), 7)) + split.flush()

    def without_ids(value):  # ids and timestamps are per call; the rest is not
        if isinstance(value, dict):
            return {
                k: without_ids(v)
                for k, v in value.items()
                if k not in ("id", "item_id", "created", "created_at")
            }
        if isinstance(value, list):
            return [without_ids(v) for v in value]
        return value

    def shape(stream: bytes) -> list:
        reader = EventReader()
        return without_ids([*reader.feed(stream), *reader.close()])

    assert shape(got) == shape(expected)
    text = b"".join(orjson.dumps(e) for e in shape(got) if isinstance(e, dict))
    assert b"Echo: stream this text"[:6] in text


@pytest.mark.parametrize(("api", "provider"), PAIRS)
def test_each_provider_event_is_answered_as_it_arrives(api, provider):
    translation, events = _translation(api, provider)
    assert translation.feed(events[0])  # the caller's first event leaves with the provider's
    assert translation.feed(events[0][:5]) == b""  # half an event waits for the rest


# --- finish reasons and usage breakdowns, each provider's answer in each caller's API ----------


def _whole(api: str, provider: str, answer: dict) -> dict:
    body = CALLER_BODIES[api]
    translation = Translation(api, provider, "m", f"{provider}/m")
    translation.body(body)
    return orjson.loads(translation.whole(200, orjson.dumps(answer)))


ANSWERS = {
    "anthropic": lambda reason: {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "text", "text": "cut"}],
        "stop_reason": reason,
        "stop_sequence": "END" if reason == "stop_sequence" else None,
        "usage": {
            "input_tokens": 10,
            "cache_read_input_tokens": 5,
            "cache_creation_input_tokens": 3,
            "output_tokens": 7,
        },
    },
    "openai": lambda reason: {
        "id": "chatcmpl-1",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "cut"},
                "finish_reason": reason,
            }
        ],
        "usage": {
            "prompt_tokens": 18,
            "completion_tokens": 7,
            "prompt_tokens_details": {"cached_tokens": 5},
            "completion_tokens_details": {"reasoning_tokens": 2},
        },
    },
    "gemini": lambda reason: {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "cut"}]}, "finishReason": reason}
        ],
        "usageMetadata": {
            "promptTokenCount": 18,
            "cachedContentTokenCount": 5,
            "candidatesTokenCount": 5,
            "thoughtsTokenCount": 2,
        },
    },
}
# provider's reason → (chat finish_reason, Messages stop_reason, Responses status/reason)
FINISHES = {
    "anthropic": {
        "end_turn": ("stop", "end_turn", None),
        "max_tokens": ("length", "max_tokens", "max_output_tokens"),
        "stop_sequence": ("stop", "stop_sequence", None),
        "refusal": ("content_filter", "refusal", "content_filter"),
    },
    "openai": {
        "stop": ("stop", "end_turn", None),
        "length": ("length", "max_tokens", "max_output_tokens"),
        "content_filter": ("content_filter", "refusal", "content_filter"),
    },
    "gemini": {
        "STOP": ("stop", "end_turn", None),
        "MAX_TOKENS": ("length", "max_tokens", "max_output_tokens"),
        "SAFETY": ("content_filter", "refusal", "content_filter"),
    },
}


@pytest.mark.parametrize(
    ("provider", "reason"), [(p, r) for p, reasons in FINISHES.items() for r in reasons]
)
def test_finish_reasons_are_re_expressed_in_every_caller_api(provider, reason):
    chat, messages, incomplete = FINISHES[provider][reason]
    answer = ANSWERS[provider](reason)
    if provider != "openai":
        assert _whole("chat", provider, answer)["choices"][0]["finish_reason"] == chat
    if provider != "anthropic":
        got = _whole("messages", provider, answer)
        assert got["stop_reason"] == messages
    if provider != "openai":
        got = _whole("responses", provider, answer)
        assert (got["incomplete_details"] or {}).get("reason") == incomplete
        assert got["status"] == ("incomplete" if incomplete else "completed")
    if provider == "anthropic" and reason == "stop_sequence":
        assert _whole("chat", provider, answer)["choices"][0]["finish_reason"] == "stop"


def test_usage_and_its_cache_breakdown_in_every_caller_api():
    # Anthropic's 10 uncached + 5 read + 3 written = 18 input tokens in OpenAI's terms.
    chat = _whole("chat", "anthropic", ANSWERS["anthropic"]("end_turn"))["usage"]
    assert chat["prompt_tokens"] == 18 and chat["prompt_tokens_details"]["cached_tokens"] == 5
    assert chat["completion_tokens"] == 7 and chat["total_tokens"] == 25
    responses = _whole("responses", "gemini", ANSWERS["gemini"]("STOP"))["usage"]
    assert responses["input_tokens"] == 18
    assert responses["input_tokens_details"]["cached_tokens"] == 5
    assert responses["output_tokens"] == 7
    assert responses["output_tokens_details"]["reasoning_tokens"] == 2
    claude = _whole("messages", "openai", ANSWERS["openai"]("stop"))["usage"]
    assert claude == {
        "input_tokens": 13,
        "output_tokens": 7,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 5,
    }


# --- Bedrock's AWS event stream: binary frames decoded for the translation ---------------------


def _bedrock_frames(wire: str, sent: dict) -> list[bytes]:
    """The frames Bedrock streams for `sent`: InvokeModel's chunks of Anthropic events, or
    ConverseStream's events (the fake provider's, as it sends them)."""
    from devtools.fake_formats_cloud import converse_stream
    from proxy.providers import eventstream

    if wire == "converse":
        return [eventstream.event(kind, payload) for kind, payload in converse_stream(sent)]
    events = anthropic_stream({**sent, "model": "m"})
    return [eventstream.chunk_event(orjson.loads(e.partition(b"data: ")[2])) for e in events]


@pytest.mark.parametrize("wire", ["anthropic", "converse"])
@pytest.mark.parametrize("api", ["chat", "responses", "messages"])
def test_a_bedrock_event_stream_translates_whatever_the_chunking(api, wire):
    def run(size: int) -> list:
        translation = Translation(api, "bedrock", "m", "bedrock/m", wire=wire)
        sent = orjson.loads(translation.body({**CALLER_BODIES[api], "stream": True}))
        assert "stream" not in sent if wire == "anthropic" else "messages" in sent
        data = b"".join(_bedrock_frames(wire, sent))
        out = b"".join(translation.feed(data[i : i + size]) for i in range(0, len(data), size))
        out += translation.flush()
        reader = EventReader()
        return [*reader.feed(out), *reader.close()]

    whole, split = run(1 << 20), run(5)  # one read, or frames cut every 5 bytes
    texts = [orjson.dumps(e) for e in split if isinstance(e, dict)]
    assert len(whole) == len(split)
    assert b"Echo: " in b"".join(texts)


def test_an_exception_frame_ends_the_callers_stream_with_its_error():
    from proxy.providers import eventstream
    from proxy.translate import Passthrough

    translation = Translation("chat", "bedrock", "m", "bedrock/m", wire="anthropic")
    sent = orjson.loads(translation.body({**CALLER_BODIES["chat"], "stream": True}))
    frames = _bedrock_frames("anthropic", sent)[:3]
    frames.append(eventstream.exception("throttlingException", "Too many tokens, slow down"))
    out = b"".join(translation.feed(f) for f in frames)
    assert b"Too many tokens, slow down" in out and b"error" in out
    assert b"[DONE]" not in out + translation.flush()  # never a clean end after an error
    passthrough = Passthrough("bedrock", "m")
    passthrough.body(CALLER_BODIES["messages"])
    relayed = b"".join(passthrough.feed(f) for f in frames)
    events = EventReader().feed(relayed)
    assert [e["type"] for e in events][:1] == ["message_start"]
    assert events[-1]["type"] == "error"
    assert "throttlingException: Too many tokens" in events[-1]["error"]["message"]
