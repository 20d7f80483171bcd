"""The Responses shape on the unified endpoint (whole and streamed, tool round trips) and
count_tokens for every provider, end to end with the official SDKs."""

from __future__ import annotations

import json

import openai
import pytest

from proxy.tests.test_e2e_unified import _claude, _openai

pytestmark = [pytest.mark.e2e]

TOOL = {
    "type": "function",
    "name": "lookup",
    "description": "look a word up",
    "parameters": {"type": "object", "properties": {"echo": {"type": "string"}}},
}
OTHERS = ["anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-flash"]


@pytest.mark.django_db
def test_responses_is_a_caller_api_of_the_translation_table():
    from proxy import translate

    assert translate.CALLER_APIS["responses"].StreamWriter
    assert ("responses", "openai") in translate.NATIVE


@pytest.mark.parametrize("model", OTHERS)
def test_responses_reach_other_providers_with_a_tool_round_trip(gw, owner, model):
    client = _openai(gw, owner.plaintext_key)
    first = client.responses.create(
        model=model, instructions="be brief", input="find owl", tools=[TOOL], max_output_tokens=80
    )
    (call,) = [item for item in first.output if item.type == "function_call"]
    assert call.name == "lookup" and json.loads(call.arguments) == {"echo": "find owl"}
    assert first.status == "completed" and first.usage.input_tokens > 0
    second = client.responses.create(
        model=model,
        instructions="be brief",
        input=[
            {"role": "user", "content": "find owl"},
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": "lookup",
                "arguments": call.arguments,
            },
            {"type": "function_call_output", "call_id": call.call_id, "output": "a bird"},
        ],
        tools=[TOOL],
    )
    assert second.output_text == "Echo: find owl"
    body = json.loads(gw.upstream_requests()[-1]["body"])
    if model.startswith("anthropic"):
        assert body["system"] == [{"type": "text", "text": "be brief"}]
        assert body["messages"][1]["content"][0]["id"] == call.call_id
        assert body["messages"][2]["content"][0]["tool_use_id"] == call.call_id
    else:
        assert body["contents"][2]["parts"][0]["functionResponse"]["name"] == "lookup"
    records = gw.records(2)
    assert all(r.name == "Responses" and r.cost_usd > 0 for r in records)
    assert records[-1].output_tokens == second.usage.output_tokens


@pytest.mark.parametrize("model", OTHERS)
def test_responses_stream_text_and_tool_calls(gw, owner, model):
    client = _openai(gw, owner.plaintext_key)
    with client.responses.stream(model=model, input="stream owl") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == "Echo: stream owl" == final.output_text
    assert final.usage.output_tokens > 0
    with client.responses.stream(model=model, input="call owl", tools=[TOOL]) as stream:
        final = stream.get_final_response()
    (call,) = final.output
    assert call.type == "function_call" and json.loads(call.arguments) == {"echo": "call owl"}
    records = gw.records(2)
    assert all(r.stream and r.cost_usd > 0 for r in records)
    assert records[-1].output_tokens == final.usage.output_tokens


def test_responses_refuse_what_only_openai_keeps(gw, owner):
    client = _openai(gw, owner.plaintext_key)
    with pytest.raises(openai.BadRequestError) as stored:
        client.responses.create(
            model="anthropic/claude-haiku-4-5", input="x", previous_response_id="resp_1"
        )
    assert "`previous_response_id`" in stored.value.message
    with pytest.raises(openai.BadRequestError) as builtin:
        client.responses.create(
            model="gemini/gemini-2.5-flash", input="x", tools=[{"type": "web_search"}]
        )
    assert "`tools[0]`" in builtin.value.message
    assert gw.upstream_requests() == []


def test_responses_at_openai_go_through_untranslated(gw, owner):
    answer = _openai(gw, owner.plaintext_key).responses.create(
        model="openai/gpt-4o-mini", input="native"
    )
    assert answer.output_text == "Echo: native"
    upstream = gw.upstream_requests()[-1]
    assert upstream["path"] == "/v1/responses"
    assert json.loads(upstream["body"]) == {"model": "gpt-4o-mini", "input": "native"}


@pytest.mark.parametrize(
    ("model", "path"),
    [
        ("anthropic/claude-haiku-4-5", "/v1/messages/count_tokens"),
        ("openai/gpt-4o-mini", "/v1/responses/input_tokens"),
        ("gemini/gemini-2.5-flash", "/v1beta/models/gemini-2.5-flash:countTokens"),
    ],
)
def test_count_tokens_reaches_every_provider(gw, owner, model, path):
    counted = _claude(gw, owner.plaintext_key).messages.count_tokens(
        model=model,
        system="be brief",
        messages=[{"role": "user", "content": "count these words please"}],
    )
    assert counted.input_tokens > 0
    upstream = gw.upstream_requests()[-1]
    assert upstream["path"] == path
    body = json.loads(upstream["body"])
    assert model.split("/")[1] in json.dumps(body)
    (rec,) = gw.records(1)
    assert rec.cost_usd == 0.0 and rec.status == "success"
