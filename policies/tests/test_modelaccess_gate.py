"""The model-access gate on calls as the proxy hands them over: tier precedence, intersection
on one tier, patterns per provider, listings filtered, count-tokens following its model."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from asgiref.sync import sync_to_async

from hotpath.errors import PolicyBlocked
from policies.modelaccess.gate import ModelAccessGate
from policies.modelaccess.services import model_access_upsert
from policies.tests.spend_helpers import drive, make_call


def access(persona: Any, name: str, scope: str, models: dict[str, str], **kw: Any) -> Any:
    return model_access_upsert(
        organization=persona.organization, name=name, scope=scope, models=models, **kw
    )


def call_for(persona: Any, model: str, provider: str = "openai", **kw: Any) -> Any:
    call = make_call(persona, **kw)
    call.model = model
    call.dialect = provider
    call.record.provider = provider
    return call


async def allowed(
    gate: ModelAccessGate, persona: Any, model: str, provider: str = "openai", **kw: Any
) -> bool:
    try:
        await gate.before(call_for(persona, model, provider, **kw))
    except PolicyBlocked as exc:
        assert exc.status == 403
        return False
    return True


@drive
async def test_the_most_specific_tier_decides(owner: Any) -> None:
    def setup() -> None:
        access(owner, "org", "organization", {"openai": "gpt-4o*"})
        access(owner, "main", "workspace", {"openai": "gpt-4.1*"}, workspace=owner.workspace)

    await sync_to_async(setup)()
    gate = ModelAccessGate()
    assert await allowed(gate, owner, "gpt-4.1-mini")  # the workspace decides, not the org
    assert not await allowed(gate, owner, "gpt-4o-mini")

    await sync_to_async(access)(owner, "alice", "user", {"openai": "*"}, user=owner.user)
    gate = ModelAccessGate()
    assert await allowed(gate, owner, "gpt-4o-mini")  # the user tier (her key is hers)

    await sync_to_async(access)(owner, "key", "api_key", {"openai": "o3"}, api_key=owner.key)
    gate = ModelAccessGate()
    assert await allowed(gate, owner, "o3")
    assert not await allowed(gate, owner, "gpt-4.1")


@drive
async def test_several_policies_on_one_tier_intersect(owner: Any) -> None:
    def setup() -> None:
        access(owner, "a", "organization", {"openai": "gpt-4.1*, gpt-4o*", "anthropic": "*"})
        access(owner, "b", "organization", {"openai": "gpt-4.1-mini, gpt-4o*"})

    await sync_to_async(setup)()
    gate = ModelAccessGate()
    assert await allowed(gate, owner, "gpt-4.1-mini")
    assert await allowed(gate, owner, "gpt-4o")
    assert not await allowed(gate, owner, "gpt-4.1")  # a allows it, b does not
    assert not await allowed(gate, owner, "claude-haiku-4-5", "anthropic")  # b lists no anthropic


@drive
async def test_patterns_per_provider_and_the_403_names_model_and_policy(owner: Any) -> None:
    await sync_to_async(access)(
        owner,
        "team models",
        "organization",
        {"anthropic": "claude-*-haiku-*", "gemini": "gemini-2.5-*"},
    )
    gate = ModelAccessGate()
    assert await allowed(gate, owner, "claude-3-5-haiku-20241022", "anthropic")
    assert not await allowed(gate, owner, "claude-sonnet-4-5", "anthropic")
    assert await allowed(gate, owner, "models/gemini-2.5-flash", "gemini")
    call = call_for(owner, "gpt-4o-mini")
    with pytest.raises(PolicyBlocked) as exc:
        await gate.before(call)
    assert "'gpt-4o-mini' of openai is not allowed by gateway policy 'team models'" in str(
        exc.value
    )
    assert exc.value.metadata["reason"] == "model_access"
    assert exc.value.metadata["policies"] == ["team models"]
    assert call.record.policy_results["violated"][0]["type"] == "model_access"


@drive
async def test_count_tokens_follows_the_model_and_the_provider_is_the_calls(owner: Any) -> None:
    await sync_to_async(access)(owner, "haiku only", "organization", {"anthropic": "*haiku*"})
    gate = ModelAccessGate()
    assert await allowed(gate, owner, "claude-haiku-4-5", "anthropic", endpoint="CountTokens")
    assert not await allowed(gate, owner, "claude-sonnet-4-5", "anthropic", endpoint="CountTokens")
    # A unified endpoint speaks OpenAI's API to Anthropic: the provider called decides.
    call = call_for(owner, "claude-haiku-4-5", "anthropic")
    call.dialect = "openai"
    await gate.before(call)


@drive
async def test_listings_keep_only_allowed_models(owner: Any) -> None:
    await sync_to_async(access)(
        owner, "org", "organization", {"openai": "gpt-4o*", "gemini": "gemini-2.5-flash"}
    )
    gate = ModelAccessGate()
    openai_list = orjson.dumps({"object": "list", "data": [{"id": "gpt-4o-mini"}, {"id": "gpt-5"}]})
    gemini_list = orjson.dumps(
        {"models": [{"name": "models/gemini-2.5-flash"}, {"name": "models/gemini-2.5-pro"}]}
    )
    for provider, body, key, kept in (
        ("openai", openai_list, "data", [{"id": "gpt-4o-mini"}]),
        ("gemini", gemini_list, "models", [{"name": "models/gemini-2.5-flash"}]),
    ):
        call = call_for(owner, "", provider, endpoint="Models", body=None)
        await gate.before(call)
        (listing,) = call.response_filters
        assert orjson.loads(listing.filter_body(body))[key] == kept
        assert call.model_allowed is not None
        assert call.model_allowed("openai", "gpt-4o") and not call.model_allowed("anthropic", "x")
    assert listing.filter_body(b'{"error": {"code": 500}}') == b'{"error": {"code": 500}}'


@drive
async def test_no_policy_no_check_and_the_decision_costs_microseconds(
    owner: Any, outsider: Any
) -> None:
    def setup() -> None:
        for i in range(50):
            access(owner, f"ws {i}", "organization", {"openai": f"gpt-{i}*, gpt-4o*, o*"})

    await sync_to_async(setup)()
    gate = ModelAccessGate()
    assert await allowed(gate, outsider, "anything")  # another organization: no policy
    call = call_for(owner, "gpt-4o-mini")
    await gate.before(call)
    started = time.perf_counter()
    for _ in range(100):
        call.record.policy_results = {}
        await gate.before(call)
    per_call = (time.perf_counter() - started) / 100
    assert per_call < 0.01  # a sanity bound only; bench/ measures it against a floor
