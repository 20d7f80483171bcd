"""OpenAI routes end to end: the official SDK → a real gateway → the fake provider."""

from __future__ import annotations

import json

import openai
import pytest

pytestmark = [pytest.mark.e2e]


def _client(gw, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/openai/v1", api_key=key, max_retries=0, timeout=10)


def test_it_proxies_a_chat_completion_and_records_usage_and_cost(gw, owner):
    client = _client(gw, owner.plaintext_key)
    answer = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hello there"}]
    )
    assert answer.choices[0].message.content == "Echo: hello there"
    (rec,) = gw.records(1)
    assert rec.status == "success" and rec.http_status == 200
    assert rec.workspace_id == owner.workspace.pk and rec.key_id == owner.key.pk
    assert rec.key_prefix == owner.key.display_prefix
    assert rec.input_tokens == answer.usage.prompt_tokens
    assert rec.output_tokens == answer.usage.completion_tokens
    assert rec.cost_usd is not None and rec.cost_usd > 0 and not rec.price_missing
    (upstream,) = gw.upstream_requests()
    headers = {k.lower(): v for k, v in upstream["headers"]}
    assert headers["authorization"] == "Bearer sk-upstream-opena-0000"
    assert owner.plaintext_key not in json.dumps(upstream)


def test_a_stream_is_relayed_with_usage_added_upstream(gw, owner):
    client = _client(gw, owner.plaintext_key)
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "stream me"}], stream=True
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: stream me"
    sent = json.loads(gw.upstream_requests()[0]["body"])
    assert sent["stream_options"] == {"include_usage": True}
    (rec,) = gw.records(1)
    assert rec.stream and rec.status == "success" and rec.output_tokens > 0
    assert rec.first_token_at is not None and rec.first_token_at >= rec.started_at


def test_a_body_nobody_changed_goes_upstream_byte_for_byte(gw, owner):
    client = _client(gw, owner.plaintext_key)
    client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "hi"}],
        extra_body={"some_future_field": {"nested": [1, 2]}},
        extra_headers={"openai-organization": "org-123", "x-custom": "yes"},
    )
    (upstream,) = gw.upstream_requests()
    assert json.loads(upstream["body"])["some_future_field"] == {"nested": [1, 2]}
    headers = {k.lower(): v for k, v in upstream["headers"]}
    assert headers["openai-organization"] == "org-123" and headers["x-custom"] == "yes"


def test_tool_calls_come_back(gw, owner):
    client = _client(gw, owner.plaintext_key)
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    answer = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "find x"}], tools=tools
    )
    call = answer.choices[0].message.tool_calls[0]
    assert call.function.name == "lookup" and json.loads(call.function.arguments) == {
        "echo": "find x"
    }


def test_the_responses_api_streams_like_codex_expects(gw, owner):
    client = _client(gw, owner.plaintext_key)
    events = list(client.responses.create(model="gpt-5", input="write code", stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == "Echo: write code"
    (rec,) = gw.records(1)
    assert rec.name == "Responses" and rec.stream
    assert rec.output_tokens == events[-1].response.usage.output_tokens > 0
    assert rec.cost_usd is not None and rec.cost_usd > 0


def test_responses_api_function_calls_and_whole_answers(gw, owner):
    client = _client(gw, owner.plaintext_key)
    tools = [{"type": "function", "name": "shell", "parameters": {"type": "object"}}]
    answer = client.responses.create(model="gpt-5", input="ls", tools=tools)
    assert answer.output[0].type == "function_call" and answer.output[0].name == "shell"
    answer = client.responses.create(model="gpt-5", input="plain")
    assert answer.output_text == "Echo: plain"


def test_embeddings_and_models(gw, owner):
    client = _client(gw, owner.plaintext_key)
    emb = client.embeddings.create(model="text-embedding-3-small", input=["a b c", "d"])
    assert len(emb.data) == 2
    assert "gpt-4o-mini" in [m.id for m in client.models.list()]
    records = gw.records(2)
    assert {r.name for r in records} == {"Embeddings", "Models"}
    assert next(r for r in records if r.name == "Models").cost_usd == 0.0


def test_an_unknown_model_is_served_with_no_cost_and_flagged(gw, owner):
    client = _client(gw, owner.plaintext_key)
    client.chat.completions.create(
        model="my-finetune-x", messages=[{"role": "user", "content": "q"}]
    )
    (rec,) = gw.records(1)
    assert rec.cost_usd is None and rec.price_missing is True and rec.input_tokens > 0


@pytest.mark.django_db
def test_the_price_table_knows_the_openai_models_used_here():
    from pricing.table import PriceTable

    table = PriceTable.load()
    assert all(table.get(m) for m in ("gpt-4o-mini", "gpt-5", "text-embedding-3-small"))


def test_the_fake_provider_lists_and_clears_what_it_received(gw, owner):
    import urllib.request

    _client(gw, owner.plaintext_key).models.list()
    with urllib.request.urlopen(f"{gw.fake_url}/__fake/requests", timeout=5) as resp:
        listed = json.loads(resp.read())
    assert [r["path"] for r in listed] == ["/v1/models"]
    request = urllib.request.Request(f"{gw.fake_url}/__fake/requests", method="DELETE")
    with urllib.request.urlopen(request, timeout=5):
        pass
    assert gw.upstream_requests() == []


def test_an_unexpected_failure_is_a_500_in_the_callers_envelope(gw, owner):
    class Broken:
        async def before(self, call):
            raise RuntimeError("bug")

        async def after(self, call):
            return None

    saved = gw.app.gates
    gw.app.gates = [Broken()]
    try:
        with pytest.raises(openai.InternalServerError) as caught:
            _client(gw, owner.plaintext_key).chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}]
            )
    finally:
        gw.app.gates = saved
    assert caught.value.status_code == 500 and "internal gateway error" in str(caught.value)
    (rec,) = gw.records(1)
    assert rec.status == "error" and rec.http_status == 500
