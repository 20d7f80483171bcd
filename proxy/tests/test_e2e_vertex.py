"""Google Vertex AI end to end: anthropic.AnthropicVertex and google-genai (vertexai=True)
pointed at the gateway with the gateway key as their access token; upstream, an access token
the gateway minted from the workspace's service account key at the fake's token endpoint
(the JWT bearer grant, its signature checked by the fake)."""

from __future__ import annotations

import json

import anthropic
import google.oauth2.credentials
import pytest
from google import genai
from google.genai import types

from devtools.fake_formats_cloud import FAKE_PROJECT
from devtools.testing import give_vertex_secret
from proxy.tokens import ACCESS_TOKENS

pytestmark = [pytest.mark.e2e]

CLAUDE = "claude-sonnet-4-5@20250929"


@pytest.fixture
def vertex(gw, owner, django_db_blocker):
    with django_db_blocker.unblock():
        give_vertex_secret(owner.workspace, gw.fake_url)
    ACCESS_TOKENS.clear()
    gw.fake.access_tokens.clear()
    return gw


def _claude(gw, key: str) -> anthropic.AnthropicVertex:
    return anthropic.AnthropicVertex(
        region="us-east5",
        project_id=FAKE_PROJECT,
        access_token=key,
        base_url=f"{gw.url}/vertex/v1",
        max_retries=0,
        timeout=10,
    )


def _genai(gw, key: str) -> genai.Client:
    return genai.Client(
        vertexai=True,
        project=FAKE_PROJECT,
        location="us-central1",
        credentials=google.oauth2.credentials.Credentials(token=key),
        http_options=types.HttpOptions(base_url=f"{gw.url}/vertex"),
    )


def _sonnet_cost(usage: dict) -> float:
    return round((usage["input_tokens"] * 3 + usage["output_tokens"] * 15) / 1e6, 9)


def _upstream_calls(gw) -> list[dict]:
    return [r for r in gw.upstream_requests() if r["path"] != "/token"]


def test_claude_on_vertex_with_a_minted_token(gw, owner, vertex):
    client = _claude(gw, owner.plaintext_key)
    answer = client.messages.create(
        model=CLAUDE,
        max_tokens=100,
        messages=[{"role": "user", "content": "bonjour"}],
        extra_headers={"anthropic-beta": "context-1m-2025-08-07"},
    )
    assert answer.content[0].text == "Echo: bonjour"
    (upstream,) = _upstream_calls(gw)
    assert upstream["path"] == (
        f"/v1/projects/{FAKE_PROJECT}/locations/us-east5/publishers/anthropic/models/"
        f"{CLAUDE}:rawPredict"
    )
    headers = {k.lower(): v for k, v in upstream["headers"]}
    assert headers["authorization"].startswith("Bearer ya29.fake-")
    assert headers["anthropic-beta"] == "context-1m-2025-08-07"
    assert owner.plaintext_key not in json.dumps(upstream)
    assert "model" not in json.loads(upstream["body"])
    (rec,) = gw.records(1)
    assert (rec.provider, rec.dialect, rec.model) == ("vertex", "anthropic", CLAUDE)
    assert rec.input_tokens == upstream["usage"]["input_tokens"] == answer.usage.input_tokens
    assert rec.output_tokens == upstream["usage"]["output_tokens"]
    assert rec.cost_usd == pytest.approx(_sonnet_cost(upstream["usage"]))


def test_claude_stream_and_one_token_for_many_calls(gw, owner, vertex):
    client = _claude(gw, owner.plaintext_key)
    minted = gw.fake.tokens_minted
    for _ in range(2):
        with client.messages.stream(
            model=CLAUDE, max_tokens=50, messages=[{"role": "user", "content": "go"}]
        ) as stream:
            assert "".join(stream.text_stream) == "Echo: go"
            final = stream.get_final_message()
    assert gw.fake.tokens_minted == minted + 1  # cached: minted once, off the later calls' path
    calls = _upstream_calls(gw)
    assert [c["path"].rpartition(":")[2] for c in calls] == ["streamRawPredict"] * 2
    records = gw.records(2)
    assert all(r.stream for r in records)
    assert records[-1].output_tokens == calls[-1]["usage"]["output_tokens"]
    assert records[-1].output_tokens == final.usage.output_tokens
    assert records[-1].cost_usd == pytest.approx(_sonnet_cost(calls[-1]["usage"]))


def test_claude_count_tokens_on_vertex(gw, owner, vertex):
    client = _claude(gw, owner.plaintext_key)
    counted = client.messages.count_tokens(
        model=CLAUDE, messages=[{"role": "user", "content": "how many"}]
    )
    assert counted.input_tokens > 0
    (rec,) = gw.records(1)
    assert rec.name == "CountTokens" and rec.cost_usd == 0


def test_gemini_on_vertex_streamed_and_not(gw, owner, vertex):
    client = _genai(gw, owner.plaintext_key)
    answer = client.models.generate_content(model="gemini-2.5-flash", contents="salut")
    assert answer.text == "Echo: salut"
    chunks = list(
        client.models.generate_content_stream(model="gemini-2.5-flash", contents="encore")
    )
    assert "".join(c.text or "" for c in chunks) == "Echo: encore"
    calls = _upstream_calls(gw)
    assert calls[0]["path"].endswith("/publishers/google/models/gemini-2.5-flash:generateContent")
    records = sorted(gw.records(2), key=lambda r: r.stream)
    for rec, call in zip(records, calls, strict=True):
        assert (rec.provider, rec.dialect) == ("vertex", "gemini")
        usage = call["usage"]
        assert rec.input_tokens == usage["promptTokenCount"]
        assert rec.output_tokens == usage["candidatesTokenCount"]
        # gemini-2.5-flash: $0.30 / $2.50 per million
        expected = (usage["promptTokenCount"] * 0.30 + usage["candidatesTokenCount"] * 2.5) / 1e6
        assert rec.cost_usd == pytest.approx(expected)


def test_a_refused_token_exchange_is_a_502_in_googles_envelope(
    gw, owner, vertex, django_db_blocker
):
    from devtools.fake_formats_cloud import fake_service_account
    from secrets_vault.services import secret_set

    info = fake_service_account(f"{gw.fake_url}/token")
    info["client_email"] = "someone-else@fake-project.iam.gserviceaccount.com"
    with django_db_blocker.unblock():
        secret_set(
            workspace=owner.workspace,
            name="VERTEX_SERVICE_ACCOUNT_JSON",
            value=json.dumps(info),
        )
    client = _genai(gw, owner.plaintext_key)
    with pytest.raises(genai.errors.APIError) as raised:
        client.models.generate_content(model="gemini-2.5-flash", contents="x")
    assert raised.value.code == 502 and "VERTEX_SERVICE_ACCOUNT_JSON" in str(raised.value)
    assert _upstream_calls(gw) == []


@pytest.mark.django_db
def test_vertex_ids_are_priced_as_their_models():
    from pricing.table import PriceTable
    from proxy import providers

    table = PriceTable.load()
    assert table.get(providers.price_name("vertex", CLAUDE)).model == "claude-sonnet-4-5"
    assert table.get(providers.price_name("vertex", "gemini-2.5-pro")).model == "gemini-2.5-pro"


def test_claude_code_on_vertex_as_export_agent_config_sets_it_up(gw, owner, vertex):
    """The exported settings drive the client the way Claude Code reads them: Vertex mode at
    ANTHROPIC_VERTEX_BASE_URL, Google auth skipped, ANTHROPIC_AUTH_TOKEN as the bearer."""
    from rollout.agent_config import build_agent_files

    (settings,) = build_agent_files(
        agent="claude-code-vertex",
        base_url=gw.url,
        key=owner.plaintext_key,
        project=FAKE_PROJECT,
        models=[CLAUDE],
    )
    env = json.loads(settings.content)["env"]
    client = anthropic.AnthropicVertex(
        access_token=env["ANTHROPIC_AUTH_TOKEN"],
        region=env["CLOUD_ML_REGION"],
        project_id=env["ANTHROPIC_VERTEX_PROJECT_ID"],
        base_url=env["ANTHROPIC_VERTEX_BASE_URL"],
        max_retries=0,
        timeout=10,
    )
    with client.messages.stream(
        model=env["ANTHROPIC_MODEL"],
        max_tokens=64,
        messages=[{"role": "user", "content": "hello from claude code"}],
    ) as stream:
        assert "".join(stream.text_stream) == "Echo: hello from claude code"
    (upstream,) = _upstream_calls(gw)
    assert "/locations/us-east5/publishers/anthropic/" in upstream["path"]
    (rec,) = gw.records(1)
    assert rec.provider == "vertex" and rec.cost_usd == pytest.approx(
        _sonnet_cost(upstream["usage"])
    )
