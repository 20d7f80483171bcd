"""Azure OpenAI end to end: openai.AzureOpenAI pointed at the gateway (its gateway key in the
`api-key` header) → a real gateway → the fake provider speaking Azure's paths, api-version and
api-key; deployments mapped both ways, usage and cost from what the fake sent, streams too."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from secrets_vault import services
from secrets_vault.models import ProviderSecret

pytestmark = [pytest.mark.e2e]

AZURE_KEY = "azure-upstream-key-0000000000000000abcd"
VERSION = "2024-10-21"


@pytest.fixture
def azure(gw, owner):
    ws = owner.workspace
    services.secret_set(
        workspace=ws, name="AZURE_OPENAI_API_KEY", value=AZURE_KEY, base_url=gw.fake_url
    )
    services.secret_set(
        workspace=ws,
        name="AZURE_OPENAI_DEPLOYMENTS",
        value="gpt-4o-mini=chat-prod,text-embedding-3-small=embed-prod",
    )
    yield
    ProviderSecret.objects.filter(workspace=ws, name__startswith="AZURE_").delete()


def _client(gw, key: str) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(
        azure_endpoint=f"{gw.url}/azure",
        api_key=key,
        api_version=VERSION,
        max_retries=0,
        timeout=10,
    )


def _headers(upstream: dict) -> dict[str, str]:
    return {k.lower(): v for k, v in upstream["headers"]}


def test_azure_openai_sdk_chat_reaches_the_deployment_of_the_model(gw, owner, azure):
    answer = _client(gw, owner.plaintext_key).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hello azure"}]
    )
    assert answer.choices[0].message.content == "Echo: hello azure"
    (upstream,) = gw.upstream_requests()
    assert upstream["path"] == "/openai/deployments/chat-prod/chat/completions"
    assert upstream["query"] == f"api-version={VERSION}"
    headers = _headers(upstream)
    assert headers["api-key"] == AZURE_KEY and "authorization" not in headers
    assert owner.plaintext_key not in json.dumps(upstream)
    (rec,) = gw.records(1)
    assert rec.provider == "azure" and rec.dialect == "openai" and rec.status == "success"
    assert rec.model == "gpt-4o-mini"  # never the deployment name
    assert rec.input_tokens == answer.usage.prompt_tokens
    assert rec.output_tokens == answer.usage.completion_tokens
    assert rec.cost_usd > 0 and not rec.price_missing


def test_a_stream_keeps_its_usage_past_the_content_filter_chunk(gw, owner, azure):
    stream = _client(gw, owner.plaintext_key).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "stream azure"}], stream=True
    )
    chunks = list(stream)
    assert chunks[0].choices == []  # Azure's prompt_filter_results chunk comes first
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: stream azure"
    (upstream,) = gw.upstream_requests()
    assert json.loads(upstream["body"])["stream_options"] == {"include_usage": True}
    (rec,) = gw.records(1)
    billed = upstream["usage"]
    assert rec.stream and rec.input_tokens == billed["prompt_tokens"]
    assert rec.output_tokens == billed["completion_tokens"]
    assert rec.cost_usd > 0 and not rec.usage_estimated


def test_a_deployment_name_is_recorded_as_its_model(gw, owner, azure):
    _client(gw, owner.plaintext_key).chat.completions.create(
        model="chat-prod", messages=[{"role": "user", "content": "x"}]
    )
    assert gw.upstream_requests()[0]["path"] == "/openai/deployments/chat-prod/chat/completions"
    (rec,) = gw.records(1)
    assert rec.model == "gpt-4o-mini" and rec.cost_usd > 0


def test_embeddings_and_responses_streamed_and_not(gw, owner, azure):
    client = _client(gw, owner.plaintext_key)
    vectors = client.embeddings.create(model="text-embedding-3-small", input=["a b c", "d"])
    assert len(vectors.data) == 2
    response = client.responses.create(model="gpt-4o-mini", input="respond")
    assert response.output_text == "Echo: respond"
    events = list(client.responses.create(model="gpt-4o-mini", input="stream", stream=True))
    assert events[-1].type == "response.completed"
    sent = gw.upstream_requests()
    assert sent[0]["path"] == "/openai/deployments/embed-prod/embeddings"
    assert [u["path"] for u in sent[1:]] == ["/openai/responses", "/openai/responses"]
    assert all(u["query"] == f"api-version={VERSION}" for u in sent)
    assert {json.loads(u["body"])["model"] for u in sent[1:]} == {"chat-prod"}
    recs = gw.records(3)
    assert [r.model for r in recs] == ["text-embedding-3-small", "gpt-4o-mini", "gpt-4o-mini"]
    assert all(r.cost_usd > 0 and not r.usage_estimated for r in recs)
    assert recs[0].input_tokens == sent[0]["usage"]["prompt_tokens"]
    assert recs[2].stream and recs[2].output_tokens == sent[2]["usage"]["output_tokens"]


def test_the_v1_api_takes_the_model_in_the_body_without_api_version(gw, owner, azure):
    client = openai.OpenAI(
        base_url=f"{gw.url}/azure/openai/v1", api_key=owner.plaintext_key, max_retries=0
    )
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "v1"}]
    )
    (upstream,) = gw.upstream_requests()
    assert upstream["path"] == "/openai/v1/chat/completions" and upstream["query"] == ""
    assert json.loads(upstream["body"])["model"] == "chat-prod"
    assert _headers(upstream)["api-key"] == AZURE_KEY


def test_the_workspace_api_version_applies_when_the_caller_names_none(gw, owner, azure):
    services.secret_set(
        workspace=owner.workspace, name="AZURE_OPENAI_API_VERSION", value="2025-04-01-preview"
    )
    response = httpx.post(
        f"{gw.url}/azure/openai/deployments/gpt-4o-mini/chat/completions",
        headers={"api-key": owner.plaintext_key},
        json={"messages": [{"role": "user", "content": "x"}]},
        timeout=10,
    )
    assert response.status_code == 200
    assert gw.upstream_requests()[0]["query"] == "api-version=2025-04-01-preview"


def test_missing_settings_are_424_and_bad_keys_401_in_openais_envelope(gw, owner):
    client = _client(gw, owner.plaintext_key)
    messages = [{"role": "user", "content": "x"}]
    with pytest.raises(openai.APIStatusError, match="AZURE_OPENAI_API_KEY") as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert caught.value.status_code == 424
    services.secret_set(workspace=owner.workspace, name="AZURE_OPENAI_API_KEY", value=AZURE_KEY)
    try:
        with pytest.raises(openai.APIStatusError, match="no endpoint") as caught:
            client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        assert caught.value.status_code == 424
    finally:
        ProviderSecret.objects.filter(
            workspace=owner.workspace, name="AZURE_OPENAI_API_KEY"
        ).delete()
    with pytest.raises(openai.AuthenticationError):
        _client(gw, "gw_sk_notakey_00000000000000000000").chat.completions.create(
            model="gpt-4o-mini", messages=messages
        )
    response = httpx.post(
        f"{gw.url}/azure/openai/deployments/x/completions?api-version=1",
        headers={"api-key": owner.plaintext_key},
        json={},
        timeout=10,
    )
    assert response.status_code == 501
    assert gw.upstream_requests() == []


@pytest.mark.django_db
def test_azure_settings_are_validated():
    from django.core.exceptions import ValidationError

    from orgs import services as org_services

    org = org_services.organization_upsert(slug="azure-checks")
    ws = org_services.workspace_upsert(organization=org, slug="main")
    with pytest.raises(ValidationError, match="api-version"):
        services.secret_set(workspace=ws, name="AZURE_OPENAI_API_VERSION", value="v99")
    with pytest.raises(ValidationError, match="model=deployment"):
        services.secret_set(workspace=ws, name="AZURE_OPENAI_DEPLOYMENTS", value="gpt-4o=bad/dep")
    secret = services.secret_set(
        workspace=ws, name="AZURE_OPENAI_DEPLOYMENTS", value="gpt-4o=prod-4o,o3=reasoning"
    )
    assert secret.last4


def test_azure_own_model_names_are_priced(gw, owner, azure):
    services.secret_set(
        workspace=owner.workspace, name="AZURE_OPENAI_DEPLOYMENTS", value="gpt-35-turbo=legacy-35"
    )
    _client(gw, owner.plaintext_key).chat.completions.create(
        model="gpt-35-turbo", messages=[{"role": "user", "content": "old model"}]
    )
    assert gw.upstream_requests()[0]["path"] == "/openai/deployments/legacy-35/chat/completions"
    (rec,) = gw.records(1)
    assert rec.model == "gpt-35-turbo" and rec.cost_usd > 0 and not rec.price_missing


def test_the_unified_endpoints_reach_azure_models(gw, owner, azure):
    import anthropic

    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=owner.plaintext_key, max_retries=0)
    answer = client.chat.completions.create(
        model="azure/gpt-4o-mini", messages=[{"role": "user", "content": "unified azure"}]
    )
    assert answer.choices[0].message.content == "Echo: unified azure"
    stream = client.chat.completions.create(
        model="azure/gpt-4o-mini", messages=[{"role": "user", "content": "s"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "Echo: s"
    claude = anthropic.Anthropic(base_url=gw.url, api_key=owner.plaintext_key, max_retries=0)
    message = claude.messages.create(
        model="azure/gpt-4o-mini",
        max_tokens=50,
        messages=[{"role": "user", "content": "from claude"}],
    )
    assert message.content[0].text == "Echo: from claude"
    sent = gw.upstream_requests()
    assert {u["path"] for u in sent} == {"/openai/v1/chat/completions"}
    assert {json.loads(u["body"])["model"] for u in sent} == {"chat-prod"}
    assert all(_headers(u)["api-key"] == AZURE_KEY for u in sent)
    recs = gw.records(3)
    assert {(r.provider, r.model) for r in recs} == {("azure", "gpt-4o-mini")}
    assert all(r.cost_usd > 0 and not r.usage_estimated for r in recs)
