"""Token counts as every tool reads them: input_tokens is every input token, cache reads and
writes included, with the cache, reasoning and audio parts as breakdowns; the cost is each
part at its own price. One case per provider with cached usage, streamed and not, through the
official SDKs and the fake provider reporting the provider's own usage objects."""

from __future__ import annotations

import json

import anthropic
import openai
import pytest
from google import genai
from google.genai import types

pytestmark = [pytest.mark.e2e]

# provider usage → (input, cache read, cache write, output, reasoning) and the model's prices
CASES = {
    "openai": (
        {
            "prompt_tokens": 1200,
            "completion_tokens": 30,
            "total_tokens": 1230,
            "prompt_tokens_details": {"cached_tokens": 1000, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 10, "audio_tokens": 0},
        },
        (1200, 1000, 0, 30, 10),
        (0.15, 0.60, 0.075, 0.15),  # gpt-4o-mini: input, output, cache read, cache write
    ),
    "responses": (
        {
            "input_tokens": 1200,
            "input_tokens_details": {"cached_tokens": 1000},
            "output_tokens": 30,
            "output_tokens_details": {"reasoning_tokens": 10},
            "total_tokens": 1230,
        },
        (1200, 1000, 0, 30, 10),
        (0.15, 0.60, 0.075, 0.15),
    ),
    "anthropic": (
        {
            "input_tokens": 200,  # Anthropic counts only the uncached input here
            "cache_read_input_tokens": 900,
            "cache_creation_input_tokens": 100,
            "output_tokens": 30,
        },
        (1200, 900, 100, 30, 0),
        (1.00, 5.00, 0.10, 1.25),  # claude-haiku-4-5
    ),
    "gemini": (
        {
            "promptTokenCount": 1200,
            "cachedContentTokenCount": 1000,
            "candidatesTokenCount": 20,
            "thoughtsTokenCount": 10,
            "totalTokenCount": 1230,
        },
        (1200, 1000, 0, 30, 10),
        (0.30, 2.50, 0.03, 0.30),  # gemini-2.5-flash
    ),
}


def _call(gw, key: str, dialect: str, usage: dict, *, stream: bool) -> None:
    headers = {"x-fake-usage": json.dumps(usage)}
    if dialect in ("openai", "responses"):
        client = openai.OpenAI(base_url=f"{gw.url}/openai/v1", api_key=key, max_retries=0)
        if dialect == "openai":
            answer = client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "cached"}],
                stream=stream,
                extra_headers=headers,
            )
        else:
            answer = client.responses.create(
                model="gpt-4o-mini", input="cached", stream=stream, extra_headers=headers
            )
        if stream:
            list(answer)
    elif dialect == "anthropic":
        client = anthropic.Anthropic(base_url=f"{gw.url}/anthropic", api_key=key, max_retries=0)
        answer = client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=50,
            messages=[{"role": "user", "content": "cached"}],
            stream=stream,
            extra_headers=headers,
        )
        if stream:
            list(answer)
    else:
        client = genai.Client(
            api_key=key, http_options=types.HttpOptions(base_url=f"{gw.url}/gemini")
        )
        config = types.GenerateContentConfig(http_options=types.HttpOptions(headers=headers))
        if stream:
            list(
                client.models.generate_content_stream(
                    model="gemini-2.5-flash", contents="cached", config=config
                )
            )
        else:
            client.models.generate_content(
                model="gemini-2.5-flash", contents="cached", config=config
            )


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("dialect", list(CASES))
def test_cached_usage_counts_in_input_and_is_priced_per_part(gw, owner, dialect, stream):
    usage, expected, (p_in, p_out, p_read, p_write) = CASES[dialect]
    _call(gw, owner.plaintext_key, dialect, usage, stream=stream)
    (rec,) = gw.records(1)
    got = (
        rec.input_tokens,
        rec.cache_read_tokens,
        rec.cache_write_tokens,
        rec.output_tokens,
        rec.reasoning_tokens,
    )
    assert got == expected
    assert not rec.usage_estimated, rec.usage_note
    total_in, read, write, output, _ = expected
    cost = (
        (total_in - read - write) * p_in + read * p_read + write * p_write + output * p_out
    ) / 1e6
    assert rec.cost_usd == pytest.approx(cost, rel=1e-9)


@pytest.mark.django_db
def test_audio_tokens_are_breakdowns_of_the_totals():
    from proxy.providers import gemini
    from proxy.providers import openai as openai_usage

    chat = openai_usage.usage_from_body(
        "ChatCompletions",
        {
            "usage": {
                "prompt_tokens": 500,
                "completion_tokens": 80,
                "prompt_tokens_details": {"audio_tokens": 300, "cached_tokens": 100},
                "completion_tokens_details": {"audio_tokens": 60},
            }
        },
    )
    assert (chat.input_tokens, chat.audio_input_tokens, chat.cache_read_tokens) == (500, 300, 100)
    assert (chat.output_tokens, chat.audio_output_tokens) == (80, 60)
    live = gemini.usage_from_body(
        "GenerateContent",
        {
            "usageMetadata": {
                "promptTokenCount": 400,
                "candidatesTokenCount": 50,
                "promptTokensDetails": [
                    {"modality": "TEXT", "tokenCount": 100},
                    {"modality": "AUDIO", "tokenCount": 300},
                ],
                "candidatesTokensDetails": [{"modality": "AUDIO", "tokenCount": 50}],
            }
        },
    )
    assert (live.input_tokens, live.audio_input_tokens, live.audio_output_tokens) == (400, 300, 50)
