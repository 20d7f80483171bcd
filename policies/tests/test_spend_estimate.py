"""The maximum-cost bound and the calendar windows (pure functions)."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest

from policies.spend.estimate import (
    Rates,
    input_bound,
    is_chargeable,
    max_cost_usd,
    output_bound,
)
from policies.spend.windows import window_end, window_start
from pricing.usage import INPUT_OVERHEAD_TOKENS, MEDIA_PART_TOKENS

UTC = dt.UTC


@pytest.mark.parametrize(
    ("body", "bound"),
    [
        ({"max_tokens": 100}, 100),  # OpenAI chat (legacy), Anthropic messages
        ({"max_completion_tokens": 300}, 300),  # OpenAI chat, reasoning models
        ({"max_output_tokens": 50}, 50),  # OpenAI Responses
        ({"generationConfig": {"maxOutputTokens": 70}}, 70),  # Gemini REST
        (
            {"generationConfig": {"maxOutputTokens": 70, "thinkingConfig": {"thinkingBudget": 30}}},
            100,
        ),
        ({"max_tokens": 10, "max_completion_tokens": 20}, 20),  # the larger wins
        ({"messages": []}, None),
        ({"max_tokens": "lots"}, None),
        ({"max_tokens": True}, None),
    ],
)
def test_the_output_bound_is_read_from_each_dialect(body: dict, bound: int | None) -> None:
    assert output_bound(body) == bound


def test_the_input_bound_covers_every_byte_and_media_and_the_context_window_caps_it() -> None:
    body = {"messages": [{"role": "user", "content": "héllo wörld " * 100}]}
    assert input_bound(body, None) == len(orjson.dumps(body)) + INPUT_OVERHEAD_TOKENS
    with_image = {
        "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x"}}]}
        ]
    }
    # "image_url" occurs twice (part type and key): each counts, which only errs high.
    assert input_bound(with_image, None) >= len(orjson.dumps(with_image)) + MEDIA_PART_TOKENS
    with_file = {"contents": [{"parts": [{"fileData": {"fileUri": "gs://x"}}]}]}
    assert input_bound(with_file, 1_000_000) == 1_000_000
    assert input_bound(body, 500) == 500


def test_the_maximum_cost_uses_the_request_bound_times_choices_else_the_model_maximum() -> None:
    body = {"max_tokens": 1000, "n": 3, "messages": []}
    rates = Rates(input=0.0, output=1_000_000.0)  # $1 per output token
    assert (
        max_cost_usd(
            endpoint="ChatCompletions",
            body=body,
            rates=rates,
            model_max_output=10,
            context_window=None,
            default_max_output=5,
        )
        == 3000
    )
    unbounded = {"messages": []}
    assert (
        max_cost_usd(
            endpoint="ChatCompletions",
            body=unbounded,
            rates=rates,
            model_max_output=10,
            context_window=None,
            default_max_output=5,
        )
        == 10
    )
    assert (
        max_cost_usd(
            endpoint="ChatCompletions",
            body=unbounded,
            rates=rates,
            model_max_output=None,
            context_window=None,
            default_max_output=5,
        )
        == 5
    )
    assert (
        max_cost_usd(
            endpoint="Embeddings",
            body=unbounded,
            rates=rates,
            model_max_output=10,
            context_window=None,
            default_max_output=5,
        )
        == 0
    )


def test_free_endpoints_are_not_charged() -> None:
    assert not is_chargeable("CountTokens", {"messages": []})
    assert not is_chargeable("ChatCompletions", None)
    assert is_chargeable("Messages", {"messages": []})


@pytest.mark.parametrize(
    ("window", "moment", "start", "end"),
    [
        ("hourly", "2026-03-04T10:59:59", "2026-03-04T10:00:00", "2026-03-04T11:00:00"),
        ("daily", "2026-03-04T23:59:59", "2026-03-04T00:00:00", "2026-03-05T00:00:00"),
        ("weekly", "2026-03-08T23:59:59", "2026-03-02T00:00:00", "2026-03-09T00:00:00"),  # Mon-Mon
        ("monthly", "2026-02-28T12:00:00", "2026-02-01T00:00:00", "2026-03-01T00:00:00"),
        ("monthly", "2026-12-31T23:59:59", "2026-12-01T00:00:00", "2027-01-01T00:00:00"),
    ],
)
def test_windows_are_calendar_aligned_in_utc(
    window: str, moment: str, start: str, end: str
) -> None:
    at = dt.datetime.fromisoformat(moment).replace(tzinfo=UTC)
    got = window_start(window, at)
    assert got == dt.datetime.fromisoformat(start).replace(tzinfo=UTC)
    assert window_end(window, got) == dt.datetime.fromisoformat(end).replace(tzinfo=UTC)
    other_zone = at.astimezone(dt.timezone(dt.timedelta(hours=-8)))  # same instant, UTC rules
    assert window_start(window, other_zone) == got


def test_an_unknown_window_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown spend window 'yearly'"):
        window_start("yearly", dt.datetime.now(UTC))
