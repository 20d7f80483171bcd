"""Model access through a real gateway (uvicorn on loopback) and the fake provider, with the
official SDKs: a refused model is each SDK's permission error naming model and policy, and the
models listings of the three dialects (and the unified one) show only what the key may call."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from devtools.testing import RunningGateway, running_gateway
from policies.modelaccess.gate import ModelAccessGate
from policies.modelaccess.services import model_access_upsert

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture(scope="module")
def servers(django_db_setup: Any, django_db_blocker: Any) -> Any:
    with (
        django_db_blocker.unblock(),
        running_gateway(gates=["policies.modelaccess.gate.ModelAccessGate"]) as gw,
    ):
        yield gw


@pytest.fixture
def ma_gw(servers: RunningGateway, owner: Any) -> Any:
    servers.reset()
    servers.give_secrets(owner.workspace)
    servers.app.gates = [ModelAccessGate()]
    model_access_upsert(
        organization=owner.organization,
        name="small models",
        scope="workspace",
        workspace=owner.workspace,
        models={"openai": "gpt-4o*", "anthropic": "claude-haiku-*", "gemini": "gemini-2.5-flash"},
    )
    return servers


def test_a_refused_model_is_each_sdks_permission_error(ma_gw: Any, owner: Any) -> None:
    client = openai.OpenAI(
        base_url=f"{ma_gw.url}/openai/v1", api_key=owner.plaintext_key, max_retries=0
    )
    with pytest.raises(openai.PermissionDeniedError) as oai:
        client.chat.completions.create(model="gpt-5", messages=[{"role": "user", "content": "hi"}])
    assert "'gpt-5' of openai is not allowed by gateway policy 'small models'" in str(oai.value)
    meta = json.loads(oai.value.response.headers["x-gateway-metadata"])
    assert meta["reason"] == "model_access" and meta["policies"] == ["small models"]
    assert client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    ).choices

    claude = anthropic.Anthropic(
        base_url=f"{ma_gw.url}/anthropic", api_key=owner.plaintext_key, max_retries=0
    )
    with pytest.raises(anthropic.PermissionDeniedError, match="claude-sonnet-4-5"):
        claude.messages.create(
            model="claude-sonnet-4-5", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
        )
    with pytest.raises(anthropic.PermissionDeniedError):  # counting follows the same rule
        claude.messages.count_tokens(
            model="claude-sonnet-4-5", messages=[{"role": "user", "content": "hi"}]
        )
    assert claude.messages.count_tokens(
        model="claude-haiku-4-5", messages=[{"role": "user", "content": "hi"}]
    ).input_tokens

    gem = genai.Client(
        api_key=owner.plaintext_key, http_options=types.HttpOptions(base_url=f"{ma_gw.url}/gemini")
    )
    with pytest.raises(genai_errors.ClientError) as gcaught:
        gem.models.generate_content(model="gemini-2.5-pro", contents="hi")
    assert gcaught.value.code == 403 and "small models" in str(gcaught.value)
    assert gem.models.generate_content(model="gemini-2.5-flash", contents="hi").text

    # The unified endpoint: the provider the model names decides.
    unified = openai.OpenAI(base_url=f"{ma_gw.url}/v1", api_key=owner.plaintext_key, max_retries=0)
    with pytest.raises(openai.PermissionDeniedError, match="claude-sonnet-4-5"):
        unified.chat.completions.create(
            model="anthropic/claude-sonnet-4-5", messages=[{"role": "user", "content": "hi"}]
        )


def test_the_models_listings_show_only_what_the_key_may_call(ma_gw: Any, owner: Any) -> None:
    client = openai.OpenAI(
        base_url=f"{ma_gw.url}/openai/v1", api_key=owner.plaintext_key, max_retries=0
    )
    assert [m.id for m in client.models.list()] == ["gpt-4o-mini"]
    claude = anthropic.Anthropic(
        base_url=f"{ma_gw.url}/anthropic", api_key=owner.plaintext_key, max_retries=0
    )
    assert [m.id for m in claude.models.list()] == ["claude-haiku-4-5"]
    gem = genai.Client(
        api_key=owner.plaintext_key, http_options=types.HttpOptions(base_url=f"{ma_gw.url}/gemini")
    )
    assert [m.name for m in gem.models.list()] == ["models/gemini-2.5-flash"]
    unified = openai.OpenAI(base_url=f"{ma_gw.url}/v1", api_key=owner.plaintext_key, max_retries=0)
    assert sorted(m.id for m in unified.models.list()) == [
        "anthropic/claude-haiku-4-5",
        "gemini/gemini-2.5-flash",
        "openai/gpt-4o-mini",
    ]


def test_a_route_never_falls_back_to_a_model_the_caller_may_not_call(
    ma_gw: Any, owner: Any
) -> None:
    from model_routes.services import route_set

    model_access_upsert(  # the failing first candidate is allowed; Sonnet is not
        organization=owner.organization,
        name="small models",
        scope="workspace",
        workspace=owner.workspace,
        models={"anthropic": "claude-haiku-*, error-*"},
    )
    chain = ["anthropic/error-500", "anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-flash"]
    route_set(workspace=owner.workspace, name="sneaky", chain=[{"model": m} for m in chain])
    route_set(workspace=owner.workspace, name="dead-end", chain=[{"model": m} for m in chain[:2]])
    client = openai.OpenAI(base_url=f"{ma_gw.url}/v1", api_key=owner.plaintext_key, max_retries=0)
    messages = [{"role": "user", "content": "hi"}]

    served = client.chat.completions.with_raw_response.create(
        model="route/sneaky", messages=messages
    )
    meta = json.loads(served.headers["x-gateway-metadata"])
    assert meta["model"] == "gemini-2.5-flash"
    assert [(a["model"], a["status"]) for a in meta["attempts"]] == [
        ("anthropic/error-500", 500),
        ("anthropic/claude-sonnet-4-5", 403),
    ]
    with pytest.raises(openai.PermissionDeniedError, match="claude-sonnet-4-5"):
        client.chat.completions.create(model="route/dead-end", messages=messages)
    sent = json.dumps(ma_gw.upstream_requests(), default=str)
    assert "error-500" in sent and "claude-sonnet-4-5" not in sent  # never reached the provider


def test_azure_and_custom_providers_are_named_by_their_own_rules(ma_gw: Any, owner: Any) -> None:
    from secrets_vault import services as secrets

    ws = owner.workspace
    secrets.secret_set(
        workspace=ws,
        name="AZURE_OPENAI_API_KEY",
        value="azure-key-0000000000abcd",
        base_url=ma_gw.fake_url,
    )
    secrets.secret_set(workspace=ws, name="AZURE_OPENAI_DEPLOYMENTS", value="gpt-4o-mini=chat-prod")
    secrets.provider_set(
        workspace=ws,
        name="vllm",
        base_url=f"{ma_gw.fake_url}/v1",
        secret="sk-v",
        models=["llama-3.1-8b", "qwen-2"],
    )
    messages = [{"role": "user", "content": "hi"}]
    unified = openai.OpenAI(base_url=f"{ma_gw.url}/v1", api_key=owner.plaintext_key, max_retries=0)
    native_azure = openai.AzureOpenAI(
        azure_endpoint=f"{ma_gw.url}/azure",
        api_key=owner.plaintext_key,
        api_version="2024-10-21",
        max_retries=0,
    )
    custom = openai.OpenAI(
        base_url=f"{ma_gw.url}/providers/vllm/v1", api_key=owner.plaintext_key, max_retries=0
    )

    # The policy of the fixture names neither: both are refused, naming the provider.
    with pytest.raises(openai.PermissionDeniedError, match="of azure is not allowed"):
        native_azure.chat.completions.create(model="gpt-4o-mini", messages=messages)
    with pytest.raises(openai.PermissionDeniedError, match="of custom/vllm is not allowed"):
        custom.chat.completions.create(model="llama-3.1-8b", messages=messages)

    model_access_upsert(
        organization=owner.organization,
        name="small models",
        scope="workspace",
        workspace=ws,
        models={"azure": "gpt-4o*", "custom": "vllm/llama-*"},
    )
    assert native_azure.chat.completions.create(model="gpt-4o-mini", messages=messages).choices
    assert unified.chat.completions.create(model="azure/gpt-4o-mini", messages=messages).choices
    assert custom.chat.completions.create(model="llama-3.1-8b", messages=messages).choices
    assert unified.chat.completions.create(
        model="custom/vllm/llama-3.1-8b", messages=messages
    ).choices
    with pytest.raises(openai.PermissionDeniedError, match="'qwen-2' of custom/vllm"):
        unified.chat.completions.create(model="custom/vllm/qwen-2", messages=messages)
    with pytest.raises(openai.PermissionDeniedError, match="'gpt-5' of azure"):
        unified.chat.completions.create(model="azure/gpt-5", messages=messages)
    listed = {m.id for m in unified.models.list()}
    assert {m for m in listed if m.startswith("custom/")} == {"custom/vllm/llama-3.1-8b"}
