"""Translated streams end to end: each SDK streams through the unified endpoints from each
other provider, tool calls and their results included, usage at the end."""

from __future__ import annotations

import json

import anthropic
import openai
import pytest

from proxy.tests.test_e2e_unified import TOOL_CHAT, TOOL_CLAUDE, _claude, _openai

pytestmark = [pytest.mark.e2e]

OTHERS_OF_OPENAI = ["anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-flash"]
OTHERS_OF_ANTHROPIC = ["openai/gpt-4o-mini", "gemini/gemini-2.5-flash"]


@pytest.mark.django_db
def test_the_stream_translation_is_table_driven_per_api():
    from proxy import translate

    for module in translate.CALLER_APIS.values():
        assert module.StreamWriter and module.read_request and module.write_response
    for module in translate.PROVIDER_APIS.values():
        assert module.StreamReader and module.write_request and module.read_response


@pytest.mark.parametrize("model", OTHERS_OF_OPENAI)
def test_openai_sdk_streams_a_tool_call_and_its_result(gw, owner, model):
    client = _openai(gw, owner.plaintext_key)
    messages = [{"role": "user", "content": "weather in Oslo"}]
    with client.chat.completions.stream(model=model, messages=messages, tools=[TOOL_CHAT]) as s:
        first = s.get_final_completion()
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.function.name == "lookup"
    assert json.loads(call.function.arguments) == {"echo": "weather in Oslo"}
    assert first.usage is not None and first.usage.prompt_tokens > 0
    messages += [
        {"role": "assistant", "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ]
    chunks = list(
        client.chat.completions.create(
            model=model, messages=messages, tools=[TOOL_CHAT], stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: weather in Oslo"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens > 0
    records = gw.records(2)
    assert all(r.stream and r.provider == model.split("/")[0] for r in records)
    assert records[-1].output_tokens == usage.completion_tokens
    assert records[-1].input_tokens == usage.prompt_tokens
    assert all(r.cost_usd > 0 and r.status == "success" for r in records)
    sent = json.loads(gw.upstream_requests()[-1]["body"])
    if model.startswith("anthropic"):
        assert sent["stream"] is True and sent["messages"][1]["content"][0]["id"] == call.id
    else:
        assert gw.upstream_requests()[-1]["query"] == "alt=sse"


@pytest.mark.parametrize("model", OTHERS_OF_ANTHROPIC)
def test_anthropic_sdk_streams_a_tool_call_and_its_result(gw, owner, model):
    client = _claude(gw, owner.plaintext_key)
    messages = [{"role": "user", "content": "weather in Rome"}]
    with client.messages.stream(
        model=model, max_tokens=100, messages=messages, tools=[TOOL_CLAUDE]
    ) as stream:
        first = stream.get_final_message()
    assert first.stop_reason == "tool_use"
    (use,) = first.content
    assert use.type == "tool_use" and use.input == {"echo": "weather in Rome"}
    messages += [
        {"role": "assistant", "content": [use.model_dump()]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "rainy"}],
        },
    ]
    with client.messages.stream(
        model=model, max_tokens=100, messages=messages, tools=[TOOL_CLAUDE]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Echo: weather in Rome" and final.stop_reason == "end_turn"
    assert final.usage.input_tokens > 0 and final.usage.output_tokens > 0
    records = gw.records(2)
    assert records[-1].output_tokens == final.usage.output_tokens
    assert all(r.stream and r.cost_usd > 0 and r.dialect == "anthropic" for r in records)
    if model.startswith("openai"):
        sent = json.loads(gw.upstream_requests()[-1]["body"])
        assert sent["stream_options"] == {"include_usage": True}
        assert sent["messages"][1]["tool_calls"][0]["id"] == use.id


def test_a_stream_the_provider_breaks_ends_with_the_callers_error_event(gw, owner):
    with pytest.raises(openai.APIError):
        for _ in _openai(gw, owner.plaintext_key).chat.completions.create(
            model="anthropic/claude-haiku-4-5",
            messages=[{"role": "user", "content": "a long answer please"}],
            stream=True,
            extra_headers={"x-fake-die-after": "3"},
        ):
            pass
    with (
        pytest.raises(anthropic.APIError),
        _claude(gw, owner.plaintext_key).messages.stream(
            model="openai/gpt-4o-mini",
            max_tokens=50,
            messages=[{"role": "user", "content": "a long answer please"}],
            extra_headers={"x-fake-die-after": "2"},
        ) as stream,
    ):
        "".join(stream.text_stream)
    records = gw.records(2)
    assert all(r.status == "error" and r.error for r in records)
    assert all(r.cost_usd is not None and r.cost_usd > 0 for r in records)


def test_a_provider_error_on_a_stream_is_the_callers_error(gw, owner):
    client = _claude(gw, owner.plaintext_key)
    with (
        pytest.raises(anthropic.RateLimitError) as caught,
        client.messages.stream(
            model="gemini/gemini-2.5-flash",
            max_tokens=5,
            messages=[{"role": "user", "content": "x"}],
            extra_headers={"x-fake-status": "429"},
        ) as stream,
    ):
        "".join(stream.text_stream)
    assert "fake provider error 429" in caught.value.message
