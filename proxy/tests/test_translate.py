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
