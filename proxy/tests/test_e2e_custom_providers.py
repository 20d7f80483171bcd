"""Custom OpenAI-compatible providers end to end: the openai SDK at /providers/NAME/v1 → a real
gateway → the fake provider, with the workspace's secret and headers, usage, cost or its
absence, the model list, 404 for a provider the caller's workspace does not have, and changes
applied to the next call."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest

from orgs import services as org_services
from secrets_vault import services

pytestmark = [pytest.mark.e2e]

SECRET = "sk-vllm-upstream-secret-4242"


def _client(gw, key: str, name: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{gw.url}/providers/{name}/v1", api_key=key, max_retries=0, timeout=10
    )


@pytest.fixture
def vllm(gw, owner):
    provider = services.provider_set(
        workspace=owner.workspace,
        name="vllm",
        base_url=f"{gw.fake_url}/v1",
        secret=SECRET,
        extra_headers={"X-Tenant": "search"},
    )
    yield provider
    services.provider_delete(provider=provider)


def _headers(upstream: dict) -> dict[str, str]:
    return {k.lower(): v for k, v in upstream["headers"]}


def test_a_chat_completion_reaches_the_custom_server_with_its_secret_and_headers(gw, owner, vllm):
    client = _client(gw, owner.plaintext_key, "vllm")
    answer = client.chat.completions.create(
        model="llama-3.1-8b",
        messages=[{"role": "user", "content": "hi there"}],
        extra_headers={"X-Tenant": "caller-value"},
    )
    assert answer.choices[0].message.content == "Echo: hi there"
    (upstream,) = gw.upstream_requests()
    assert upstream["path"] == "/v1/chat/completions"
    headers = _headers(upstream)
    assert headers["authorization"] == f"Bearer {SECRET}"
    assert headers["x-tenant"] == "search"  # the provider's header replaces the caller's
    assert owner.plaintext_key not in json.dumps(upstream)
    (rec,) = gw.records(1)
    assert rec.provider == "custom/vllm" and rec.dialect == "openai"
    assert rec.model == "llama-3.1-8b" and rec.status == "success"
    assert rec.input_tokens == answer.usage.prompt_tokens
    assert rec.output_tokens == answer.usage.completion_tokens
    # A model the price table does not know: cost unknown and flagged, never a silent 0.
    assert rec.cost_usd is None and rec.price_missing


def test_a_stream_has_usage_and_a_known_model_is_priced(gw, owner, vllm):
    client = _client(gw, owner.plaintext_key, "vllm")
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "stream it"}], stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "Echo: stream it"
    sent = json.loads(gw.upstream_requests()[0]["body"])
    assert sent["stream_options"] == {"include_usage": True}
    (rec,) = gw.records(1)
    assert rec.stream and rec.output_tokens > 0 and rec.cost_usd > 0
    assert not rec.usage_estimated


def test_embeddings_and_models_pass_through(gw, owner, vllm):
    client = _client(gw, owner.plaintext_key, "vllm")
    vectors = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert len(vectors.data) == 2
    assert [m.id for m in client.models.list()][:1] == ["gpt-4o-mini"]
    assert client.models.retrieve("llama-3.1-8b").id == "llama-3.1-8b"
    paths = [u["path"] for u in gw.upstream_requests()]
    assert paths == ["/v1/embeddings", "/v1/models", "/v1/models/llama-3.1-8b"]


def test_without_a_secret_no_credentials_go_upstream(gw, owner):
    provider = services.provider_set(
        workspace=owner.workspace, name="ollama", base_url=f"{gw.fake_url}/v1"
    )
    try:
        _client(gw, owner.plaintext_key, "ollama").chat.completions.create(
            model="llama3.2", messages=[{"role": "user", "content": "x"}]
        )
        headers = _headers(gw.upstream_requests()[0])
        assert "authorization" not in headers and "x-api-key" not in headers
    finally:
        services.provider_delete(provider=provider)


def test_the_model_list_is_enforced(gw, owner, vllm):
    services.provider_set(workspace=owner.workspace, name="vllm", models=["llama-3.1-8b"])
    client = _client(gw, owner.plaintext_key, "vllm")
    with pytest.raises(openai.BadRequestError, match="not offered by custom provider vllm"):
        client.chat.completions.create(model="gpt-5", messages=[{"role": "user", "content": "x"}])
    assert gw.upstream_requests() == []
    client.chat.completions.create(
        model="llama-3.1-8b", messages=[{"role": "user", "content": "x"}]
    )
    assert len(gw.upstream_requests()) == 1


def test_another_workspaces_provider_is_404(gw, owner, django_db_blocker):
    other = org_services.workspace_upsert(organization=owner.organization, slug="other-team")
    theirs = services.provider_set(workspace=other, name="theirs", base_url=f"{gw.fake_url}/v1")
    try:
        client = _client(gw, owner.plaintext_key, "theirs")
        with pytest.raises(openai.NotFoundError, match="no custom provider named theirs"):
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        assert gw.upstream_requests() == []
        (rec,) = gw.records(1)
        assert rec.http_status == 404 and rec.workspace_id == owner.workspace.pk
    finally:
        services.provider_delete(provider=theirs)


def test_paths_off_its_list_are_501_and_a_bad_key_401(gw, owner, vllm):
    auth = {"authorization": f"Bearer {owner.plaintext_key}"}
    for method, path in (
        ("POST", "/providers/vllm/v1/responses"),
        ("POST", "/providers/vllm/v1/completions"),
        ("GET", "/providers/vllm/v2/models"),
        ("POST", "/providers/Bad_Name/v1/chat/completions"),
    ):
        response = httpx.request(method, f"{gw.url}{path}", headers=auth, json={}, timeout=10)
        assert response.status_code == 501, path
        assert response.json()["error"]["message"] == "path not allow-listed"
    client = _client(gw, "gw_sk_wrongwrongwrong_000000000000", "vllm")
    with pytest.raises(openai.AuthenticationError):
        client.models.list()
    assert gw.upstream_requests() == []


def test_a_change_applies_to_the_next_call(gw, owner, vllm):
    client = _client(gw, owner.plaintext_key, "vllm")
    messages = [{"role": "user", "content": "x"}]
    client.chat.completions.create(model="m1", messages=messages)
    services.provider_set(workspace=owner.workspace, name="vllm", secret="sk-rotated-9999")
    changed_at = time.monotonic()
    client.chat.completions.create(model="m1", messages=messages)
    assert time.monotonic() - changed_at < 1.0
    assert _headers(gw.upstream_requests()[-1])["authorization"] == "Bearer sk-rotated-9999"
    services.provider_set(workspace=owner.workspace, name="vllm", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="m1", messages=messages)
    assert caught.value.status_code == 502  # the new base URL, which nothing serves
    assert len(gw.upstream_requests()) == 2


@pytest.mark.django_db
def test_the_secret_table_holds_custom_providers_beside_the_secrets():
    from proxy.auth_build import load_secret_table
    from proxy.routing import custom_secret, match

    org = org_services.organization_upsert(slug="table-test", llm_gateway_enabled=True)
    ws = org_services.workspace_upsert(organization=org, slug="main")
    services.provider_set(
        workspace=ws,
        name="tgi",
        base_url="http://127.0.0.1:8080/v1/",
        extra_headers={"X-A": "1"},
        models=["m"],
    )
    entry = load_secret_table()[ws.pk][custom_secret("tgi")]
    assert entry.base_url == "http://127.0.0.1:8080/v1" and entry.secret == ""
    assert entry.headers == (("X-A", "1"),) and entry.models == frozenset({"m"})
    route = match("POST", "/providers/tgi/v1/chat/completions")
    assert route is not None and route.secret == "custom/tgi"
    assert route.upstream_path == "/chat/completions"


def test_the_unified_endpoints_reach_a_custom_provider(gw, owner, vllm):
    import anthropic

    client = openai.OpenAI(
        base_url=f"{gw.url}/v1", api_key=owner.plaintext_key, max_retries=0, timeout=10
    )
    answer = client.chat.completions.create(
        model="custom/vllm/llama-3.1-8b", messages=[{"role": "user", "content": "unified"}]
    )
    assert answer.choices[0].message.content == "Echo: unified"
    (upstream,) = gw.upstream_requests()
    assert upstream["path"] == "/v1/chat/completions"
    assert json.loads(upstream["body"])["model"] == "llama-3.1-8b"
    headers = _headers(upstream)
    assert headers["authorization"] == f"Bearer {SECRET}" and headers["x-tenant"] == "search"
    (rec,) = gw.records(1)
    assert rec.provider == "custom/vllm" and rec.model == "llama-3.1-8b"
    # The Anthropic SDK too, translated to Chat Completions on the way.
    claude = anthropic.Anthropic(base_url=gw.url, api_key=owner.plaintext_key, max_retries=0)
    message = claude.messages.create(
        model="custom/vllm/llama-3.1-8b",
        max_tokens=50,
        messages=[{"role": "user", "content": "from claude"}],
    )
    assert message.content[0].text == "Echo: from claude"
    assert gw.upstream_requests()[-1]["path"] == "/v1/chat/completions"
    response = client.responses.create(model="custom/vllm/llama-3.1-8b", input="responses")
    assert response.output_text == "Echo: responses"
    assert gw.upstream_requests()[-1]["path"] == "/v1/chat/completions"
    with pytest.raises(openai.NotFoundError, match="no custom provider named nope"):
        client.chat.completions.create(
            model="custom/nope/m", messages=[{"role": "user", "content": "x"}]
        )
    with pytest.raises(openai.BadRequestError, match="custom/NAME/MODEL"):
        client.chat.completions.create(
            model="custom/vllm", messages=[{"role": "user", "content": "x"}]
        )
    services.provider_set(workspace=owner.workspace, name="vllm", models=["llama-3.1-8b"])
    listed = [m.id for m in client.models.list()]
    assert "custom/vllm/llama-3.1-8b" in listed and "openai/gpt-4o-mini" in listed


def test_a_route_can_fall_back_to_a_custom_provider(gw, owner, vllm):
    from model_routes.services import route_set

    route = route_set(
        workspace=owner.workspace,
        name="local-first",
        chain=["openai/error-500", "custom/vllm/llama-3.1-8b"],
        fallback_on=["5xx"],
    )
    try:
        client = openai.OpenAI(
            base_url=f"{gw.url}/v1", api_key=owner.plaintext_key, max_retries=0, timeout=10
        )
        answer = client.chat.completions.create(
            model="route/local-first", messages=[{"role": "user", "content": "fallback"}]
        )
        assert answer.choices[0].message.content == "Echo: fallback"
        last = gw.upstream_requests()[-1]
        assert _headers(last)["authorization"] == f"Bearer {SECRET}"
        records = gw.records(2)
        assert {r.provider for r in records} == {"openai", "custom/vllm"}
    finally:
        route.delete()
