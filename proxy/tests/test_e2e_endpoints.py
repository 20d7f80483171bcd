"""The secondary endpoints a client reaches through a base URL, end to end with the official
SDKs: stored OpenAI responses (retrieve, delete, cancel, input items), compaction, input-token
counts, one model by id in each dialect, and Gemini embeddings; what is billed is priced."""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types as genai_types

pytestmark = [pytest.mark.e2e]


def _openai(gw, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/openai/v1", api_key=key, max_retries=0, timeout=10)


def _gemini(gw, key: str) -> genai.Client:
    return genai.Client(
        api_key=key,
        http_options=genai_types.HttpOptions(
            base_url=f"{gw.url}/gemini", api_version="v1beta", timeout=10_000
        ),
    )


def test_a_stored_response_is_retrieved_listed_and_deleted(gw, owner):
    client = _openai(gw, owner.plaintext_key)
    created = client.responses.create(model="gpt-5", input="remember me")
    got = client.responses.retrieve(created.id)
    assert got.id == created.id and got.output_text == "Echo: remember me"
    items = client.responses.input_items.list(created.id)
    assert [i.role for i in items.data] == ["user"]
    assert items.data[0].content[0].text == "remember me"
    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    records = gw.records(5)
    by_name = {r.name: r for r in records if r.http_status == 200}
    assert set(by_name) == {
        "Responses",
        "ResponsesRetrieve",
        "ResponsesInputItems",
        "ResponsesDelete",
    }
    assert by_name["Responses"].cost_usd > 0
    for name in ("ResponsesRetrieve", "ResponsesInputItems", "ResponsesDelete"):
        rec = by_name[name]
        # Reading back what was already billed costs nothing and counts no tokens again.
        assert rec.cost_usd == 0 and rec.input_tokens == 0 and not rec.price_missing
        assert rec.status == "success" and rec.provider == "openai"
    missing = [r for r in records if r.http_status == 404]
    assert len(missing) == 1 and missing[0].status == "error"
    paths = [(u["method"], u["path"]) for u in gw.upstream_requests()]
    assert ("DELETE", f"/v1/responses/{created.id}") in paths
    assert ("GET", f"/v1/responses/{created.id}/input_items") in paths


def test_a_background_response_is_cancelled_and_a_finished_one_is_refused(gw, owner):
    client = _openai(gw, owner.plaintext_key)
    queued = client.responses.create(model="gpt-5", input="long job", background=True)
    assert queued.status == "queued"
    cancelled = client.responses.cancel(queued.id)
    assert cancelled.status == "cancelled"
    done = client.responses.create(model="gpt-5", input="quick")
    with pytest.raises(openai.BadRequestError, match="background"):
        client.responses.cancel(done.id)
    cancel = [r for r in gw.records(4) if r.name == "ResponsesCancel"]
    assert [r.http_status for r in cancel] == [200, 400]
    assert all(r.cost_usd == 0 for r in cancel)
    sent = [u for u in gw.upstream_requests() if u["path"].endswith("/cancel")]
    assert sent[0]["body"] == ""  # the SDK sends no body, and none goes upstream


def test_a_retrieve_can_stream_and_is_still_not_billed(gw, owner):
    client = _openai(gw, owner.plaintext_key)
    created = client.responses.create(model="gpt-5", input="replay")
    gw.reset()
    events = list(client.responses.retrieve(created.id, stream=True))
    assert events[-1].type == "response.completed"
    (rec,) = gw.records(1)
    assert rec.stream and rec.name == "ResponsesRetrieve"
    assert rec.cost_usd == 0 and rec.output_tokens == 0 and not rec.usage_estimated


def test_compaction_is_billed_and_input_tokens_are_free(gw, owner):
    client = _openai(gw, owner.plaintext_key)
    history = [
        {"role": "user", "content": "write a landing page"},
        {"role": "assistant", "content": "here it is"},
    ]
    compacted = client.responses.compact(model="gpt-5", input=history)
    assert compacted.object == "response.compaction"
    assert compacted.output[-1].type == "compaction"
    counted = client.responses.input_tokens.count(model="gpt-5", input="how many tokens?")
    assert counted.input_tokens > 0
    recs = {r.name: r for r in gw.records(2)}
    compact = recs["ResponsesCompact"]
    assert compact.model == "gpt-5" and compact.input_tokens == compacted.usage.input_tokens
    assert compact.output_tokens == compacted.usage.output_tokens
    assert compact.cost_usd > 0 and not compact.usage_estimated
    tokens = recs["ResponsesInputTokens"]
    assert tokens.cost_usd == 0 and tokens.input_tokens == 0 and not tokens.price_missing


def test_one_model_by_id_in_every_dialect(gw, owner):
    key = owner.plaintext_key
    model = _openai(gw, key).models.retrieve("ft:gpt-4o-mini:acme:custom:abc123")
    assert model.id == "ft:gpt-4o-mini:acme:custom:abc123" and model.object == "model"
    claude = anthropic.Anthropic(
        base_url=f"{gw.url}/anthropic", api_key=key, max_retries=0
    ).models.retrieve("claude-sonnet-4-5")
    assert claude.id == "claude-sonnet-4-5" and claude.type == "model"
    google = _gemini(gw, key)
    gemini = google.models.get(model="gemini-2.5-flash")
    assert gemini.name == "models/gemini-2.5-flash" and gemini.input_token_limit
    recs = gw.records(3)
    assert sorted(r.dialect for r in recs) == ["anthropic", "gemini", "openai"]
    assert {r.name for r in recs} == {"GetModel"}
    assert {r.model for r in recs} == {
        "ft:gpt-4o-mini:acme:custom:abc123",
        "claude-sonnet-4-5",
        "gemini-2.5-flash",
    }
    assert all(r.cost_usd == 0 and not r.price_missing for r in recs)
    sent = {u["path"] for u in gw.upstream_requests()}
    assert "/v1beta/models/gemini-2.5-flash" in sent
    assert "/v1/models/claude-sonnet-4-5" in sent


def test_gemini_embeddings_are_priced_from_the_usage_sent(gw, owner):
    client = _gemini(gw, owner.plaintext_key)
    result = client.models.embed_content(
        model="gemini-embedding-001",
        contents=["first text to embed", "second one"],
        config=genai_types.EmbedContentConfig(output_dimensionality=4),
    )
    assert [len(e.values) for e in result.embeddings] == [4, 4]
    (rec,) = gw.records(1)
    assert rec.name == "BatchEmbedContents" and rec.model == "gemini-embedding-001"
    (sent,) = gw.upstream_requests()
    assert sent["path"] == "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    billed = sent["usage"]["promptTokenCount"]
    assert rec.input_tokens == billed and rec.output_tokens == 0
    assert rec.cost_usd == pytest.approx(billed * 0.15 / 1_000_000)
    assert not rec.usage_estimated and not rec.price_missing


def test_gemini_single_embed_content(gw, owner):
    response = httpx.post(
        f"{gw.url}/gemini/v1beta/models/gemini-embedding-001:embedContent",
        headers={"x-goog-api-key": owner.plaintext_key},
        json={"content": {"parts": [{"text": "one text"}]}},
        timeout=10,
    )
    assert response.status_code == 200 and response.json()["embedding"]["values"]
    (rec,) = gw.records(1)
    assert rec.name == "EmbedContent" and rec.input_tokens == 2 and rec.cost_usd > 0


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/openai/v1/responses/resp_1/output_items"),
        ("PUT", "/openai/v1/responses/resp_1"),
        ("POST", "/openai/v1/models/gpt-5"),
        ("DELETE", "/anthropic/v1/models/claude-sonnet-4-5"),
        ("POST", "/gemini/v1beta/models/gemini-2.5-flash:predict"),
        ("GET", "/gemini/v1beta/models/a/b"),
    ],
)
def test_what_is_not_on_the_list_is_still_501(gw, owner, method, path):
    response = httpx.request(
        method,
        f"{gw.url}{path}",
        headers={"authorization": f"Bearer {owner.plaintext_key}"},
        timeout=10,
    )
    assert response.status_code == 501
    assert gw.upstream_requests() == []


def test_an_outsider_key_reaches_no_stored_response(gw, owner):
    client = _openai(gw, "gk_svc_notarealkeyatall_0000000000000000")
    with pytest.raises(openai.AuthenticationError):
        client.responses.retrieve("resp_fake1")
    assert gw.upstream_requests() == []


@pytest.mark.django_db
def test_the_price_table_knows_the_gemini_embedding_models():
    from pricing.table import PriceTable

    table = PriceTable.load()
    for model in ("gemini-embedding-001", "gemini-embedding-2-preview"):
        price = table.get(model)
        assert price is not None and price.output == 0 and price.input > 0
