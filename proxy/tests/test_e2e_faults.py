"""The fault suite: misbehaving upstreams and clients against a real gateway on loopback.

Each case asserts what the client sees (its SDK's error, the dialect's envelope or error
event), that every call became one run (calls = runs), and what the call was charged: the
provider's own usage when it reported it, never less than its input when it did not.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from pricing.usage import MAX_TOKENS

pytestmark = [pytest.mark.e2e]


def _openai(gw, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/openai/v1", api_key=key, max_retries=0, timeout=10)


def _claude(gw, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=f"{gw.url}/anthropic", api_key=key, max_retries=0, timeout=10
    )


def _gemini(gw, key: str) -> genai.Client:
    return genai.Client(
        api_key=key,
        http_options=types.HttpOptions(base_url=f"{gw.url}/gemini", timeout=10_000),
    )


@contextmanager
def _timeouts(gw, *, read: float, idle: float) -> Iterator[None]:
    upstream = gw.app.upstream
    saved = upstream.timeout, upstream.idle_timeout
    upstream.timeout = aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=read)
    upstream.idle_timeout = idle
    try:
        yield
    finally:
        upstream.timeout, upstream.idle_timeout = saved


def _one_run(gw) -> Any:
    """The call's one run (calls = runs), once the recorder has it."""
    records = gw.records(1)
    time.sleep(0.05)  # nothing else arrives late
    assert len(gw.records(1)) == 1, [r.error for r in records]
    return records[0]


def _fault(mode: str) -> dict[str, str]:
    return {"x-fake-fault": mode}


# -- upstreams that stop answering ---------------------------------------------------------


def test_an_upstream_that_never_answers_is_a_504_and_the_input_is_charged(gw, owner):
    with _timeouts(gw, read=0.5, idle=0.5), pytest.raises(openai.APIStatusError) as caught:
        _openai(gw, owner.plaintext_key).chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hello?"}],
            extra_headers=_fault("hang"),
        )
    assert caught.value.status_code == 504
    rec = _one_run(gw)
    assert rec.status == "error" and rec.http_status == 504
    assert rec.usage_estimated and rec.input_tokens > 0 and rec.cost_usd > 0


@pytest.mark.parametrize("dialect", ["openai", "responses", "anthropic", "gemini"])
def test_a_stream_that_goes_silent_ends_with_the_dialects_error_event(gw, owner, dialect):
    with _timeouts(gw, read=5, idle=0.5), pytest.raises(Exception) as caught:
        _consume_stream(gw, owner.plaintext_key, dialect, _fault("hang-after:2"))
    _assert_sdk_stream_error(dialect, caught.value)
    rec = _one_run(gw)
    assert rec.status == "error" and "stalled" in rec.error
    assert rec.input_tokens > 0 and rec.output_tokens >= 1 and rec.cost_usd > 0


@pytest.mark.parametrize("dialect", ["openai", "responses", "anthropic", "gemini"])
def test_an_upstream_dying_mid_stream_ends_with_the_dialects_error_event(gw, owner, dialect):
    with pytest.raises(Exception) as caught:
        _consume_stream(gw, owner.plaintext_key, dialect, _fault("drop-after:2"))
    _assert_sdk_stream_error(dialect, caught.value)
    rec = _one_run(gw)
    assert rec.status == "error" and "interrupted" in rec.error
    assert rec.input_tokens > 0 and rec.cost_usd > 0
    (upstream,) = gw.upstream_requests()
    assert rec.input_tokens >= _billed_input(upstream)  # never less than the provider bills


def test_a_gemini_json_stream_cut_by_its_upstream_is_not_ended_as_a_success(gw, owner):
    body = {"contents": [{"role": "user", "parts": [{"text": "cut"}]}]}
    # The chunked body never ends: a broken response, not a short "success".
    with (
        pytest.raises(httpx.HTTPError),
        httpx.stream(
            "POST",
            f"{gw.url}/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent",
            json=body,
            headers={"x-goog-api-key": owner.plaintext_key, **_fault("drop-after:1")},
            timeout=10,
        ) as response,
    ):
        for _ in response.iter_bytes():
            pass
    rec = _one_run(gw)
    assert rec.status == "error" and "interrupted" in rec.error


def test_a_trickling_stream_is_relayed_whole_and_charged_what_the_provider_reported(gw, owner):
    with _timeouts(gw, read=5, idle=1.0):
        text = "".join(
            c.choices[0].delta.content or ""
            for c in _openai(gw, owner.plaintext_key).chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "slowly"}],
                stream=True,
                extra_headers=_fault("trickle:2"),
            )
            if c.choices
        )
    assert text == "Echo: slowly"
    rec = _one_run(gw)
    (upstream,) = gw.upstream_requests()
    assert rec.status == "success" and not rec.usage_estimated
    assert (rec.input_tokens, rec.output_tokens) == (
        upstream["usage"]["prompt_tokens"],
        upstream["usage"]["completion_tokens"],
    )


def test_a_reset_connection_is_a_502_in_the_callers_envelope(gw, owner):
    with pytest.raises(anthropic.APIStatusError) as caught:
        _claude(gw, owner.plaintext_key).messages.create(
            model="claude-haiku-4-5",
            max_tokens=20,
            messages=[{"role": "user", "content": "x"}],
            extra_headers=_fault("reset"),
        )
    assert caught.value.status_code == 502
    rec = _one_run(gw)
    assert rec.status == "error" and rec.http_status == 502 and rec.cost_usd > 0


def test_an_upstream_200_that_is_not_json_is_an_upstream_error(gw, owner):
    with pytest.raises(openai.APIStatusError) as caught:
        _openai(gw, owner.plaintext_key).chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "x"}],
            extra_headers=_fault("garbage"),
        )
    assert caught.value.status_code == 502 and "not JSON" in caught.value.message
    rec = _one_run(gw)
    assert rec.status == "error" and "not JSON" in rec.error
    assert rec.usage_estimated and rec.cost_usd > 0  # it reached the provider: never $0


def test_a_garbage_stream_is_charged_by_estimate_not_zero(gw, owner):
    with httpx.stream(
        "POST",
        f"{gw.url}/openai/v1/chat/completions",
        json={
            "model": "gpt-4o-mini",
            "stream": True,
            "messages": [{"role": "user", "content": "g"}],
        },
        headers={"authorization": f"Bearer {owner.plaintext_key}", **_fault("garbage")},
        timeout=10,
    ) as response:
        raw = b"".join(response.iter_bytes())
    assert b"not json" in raw
    rec = _one_run(gw)
    assert rec.usage_estimated and rec.input_tokens > 0 and rec.cost_usd > 0


# -- huge and implausible usage --------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["openai", "responses", "anthropic", "gemini"])
def test_usage_in_events_past_a_mebibyte_is_read_exactly(gw, owner, dialect):
    _consume_stream(gw, owner.plaintext_key, dialect, _fault("huge-events"), tolerate=True)
    rec = _one_run(gw)
    (upstream,) = gw.upstream_requests()
    assert not rec.usage_estimated, rec.usage_note
    assert rec.input_tokens == _billed_input(upstream) > 0
    assert rec.output_tokens == _billed_output(upstream) > 0


def test_negative_usage_is_clamped_and_flagged(gw, owner):
    usage = {"prompt_tokens": 30, "completion_tokens": -500, "total_tokens": -470}
    _openai(gw, owner.plaintext_key).chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "x"}],
        extra_headers={"x-fake-usage": json.dumps(usage)},
    )
    rec = _one_run(gw)
    assert (rec.input_tokens, rec.output_tokens) == (30, 0)
    assert rec.usage_estimated and "negative output_tokens" in rec.usage_note
    assert rec.cost_usd >= 0


def test_absurd_usage_is_clamped_and_flagged(gw, owner):
    usage = {"input_tokens": 10**15, "output_tokens": 3, "cache_read_input_tokens": -1}
    _claude(gw, owner.plaintext_key).messages.create(
        model="claude-haiku-4-5",
        max_tokens=20,
        messages=[{"role": "user", "content": "x"}],
        extra_headers={"x-fake-usage": json.dumps(usage)},
    )
    rec = _one_run(gw)
    assert rec.input_tokens == MAX_TOKENS and rec.cache_read_tokens == 0
    assert rec.usage_estimated and "implausible input_tokens" in rec.usage_note


# -- clients that go away --------------------------------------------------------------------


def test_a_non_streaming_client_that_hangs_up_cancels_the_upstream_call(gw, owner):
    with pytest.raises(httpx.TimeoutException):
        httpx.post(
            f"{gw.url}/openai/v1/chat/completions",
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "wait"}]},
            headers={"authorization": f"Bearer {owner.plaintext_key}", "x-fake-delay-ms": "3000"},
            timeout=0.5,
        )
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and not gw.upstream_requests()[0]["disconnected"]:
        time.sleep(0.02)
    (upstream,) = gw.upstream_requests()
    assert upstream["disconnected"] is True  # the provider saw the connection go at once
    rec = _one_run(gw)
    assert rec.error == "client disconnected" and rec.http_status == 499
    assert rec.ended_at - rec.started_at < 2  # not left running to its end
    assert rec.usage_estimated and rec.input_tokens > 0 and rec.cost_usd > 0


# -- helpers ---------------------------------------------------------------------------------


def _billed_input(upstream: dict[str, Any]) -> int:
    usage = upstream.get("usage") or {}
    if "prompt_tokens" in usage:
        return usage["prompt_tokens"]
    if "promptTokenCount" in usage:
        return usage["promptTokenCount"]
    return (
        usage.get("input_tokens", 0)
        + usage.get("cache_read_input_tokens", 0)
        + usage.get("cache_creation_input_tokens", 0)
    )


def _billed_output(upstream: dict[str, Any]) -> int:
    usage = upstream.get("usage") or {}
    for name in ("completion_tokens", "output_tokens", "candidatesTokenCount"):
        if name in usage:
            return usage[name]
    return 0


def _consume_stream(
    gw, key: str, dialect: str, headers: dict[str, str], *, tolerate: bool = False
) -> None:
    """Stream one answer with the dialect's official SDK, reading it to the end."""
    try:
        if dialect == "openai":
            for _ in _openai(gw, key).chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "stream please"}],
                stream=True,
                extra_headers=headers,
            ):
                pass
        elif dialect == "responses":
            for _ in _openai(gw, key).responses.create(
                model="gpt-4o-mini", input="stream please", stream=True, extra_headers=headers
            ):
                pass
        elif dialect == "anthropic":
            for _ in _claude(gw, key).messages.create(
                model="claude-haiku-4-5",
                max_tokens=50,
                messages=[{"role": "user", "content": "stream please"}],
                stream=True,
                extra_headers=headers,
            ):
                pass
        else:
            client = _gemini(gw, key)  # held: a collected client closes its connections
            for _ in client.models.generate_content_stream(
                model="gemini-2.5-flash",
                contents="stream please",
                config=types.GenerateContentConfig(http_options=types.HttpOptions(headers=headers)),
            ):
                pass
    except Exception:
        if not tolerate:
            raise


def _assert_sdk_stream_error(dialect: str, error: BaseException) -> None:
    """The SDK raised its own error for the stream (not a parse error, not a clean end)."""
    if dialect in ("openai", "responses"):
        assert isinstance(error, openai.APIError), repr(error)
    elif dialect == "anthropic":
        assert isinstance(error, anthropic.APIStatusError | anthropic.APIError), repr(error)
    else:
        assert isinstance(error, genai_errors.APIError), repr(error)


@pytest.mark.django_db
def test_a_clamped_record_is_storable():
    """The clamp keeps every count inside the database's columns: a record from a lying
    upstream is stored, not refused and lost."""
    from hotpath.callrecord import CallRecord
    from orgs import services
    from tracing.models import Run
    from tracing.services import runs_ingest_tolerant

    org = services.organization_upsert(slug="clamp", llm_gateway_enabled=True)
    ws = services.workspace_upsert(organization=org, slug="w")
    record = CallRecord(
        run_id="f" * 32,
        trace_id="f" * 32,
        started_at=time.time(),
        organization_id=org.pk,
        workspace_id=ws.pk,
        input_tokens=MAX_TOKENS,
        audio_output_tokens=MAX_TOKENS,
        usage_estimated=True,
        usage_note="implausible input_tokens",
    )
    runs_ingest_tolerant([record])
    run = Run.objects.get(run_id="f" * 32)
    assert run.input_tokens == MAX_TOKENS and run.usage_estimated and run.usage_note
