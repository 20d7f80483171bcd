"""The rate-limit gate on calls as the proxy hands them over, against the Redis script and
the database counters (each test runs on both stores)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import time_machine
from asgiref.sync import sync_to_async

from hotpath.errors import PolicyBlocked
from policies.ratelimit.gate import RateLimitGate, _tokens_bound
from policies.tests.ratelimit_helpers import rate_policy
from policies.tests.spend_helpers import drive, make_call, store_mode  # noqa: F401
from pricing.table import Usage

pytestmark = [pytest.mark.usefixtures("store_mode")]


async def admitted(gate: RateLimitGate, calls: list[Any]) -> int:
    """Run before() on every call at once; the number admitted (the rest must be 429s)."""
    results = await asyncio.gather(*(gate.before(c) for c in calls), return_exceptions=True)
    refused = [r for r in results if r is not None]
    assert all(isinstance(r, PolicyBlocked) and r.status == 429 for r in refused), [
        repr(r) for r in refused if not isinstance(r, PolicyBlocked)
    ][:2]
    return len(results) - len(refused)


async def finish(gate: RateLimitGate, call: Any, tokens: int = 10, reached: bool = True) -> None:
    """The end of a call: it reached the provider (and used `tokens`) or was refused later."""
    if reached:
        call.sent_body = b"{}"
        call.usage = Usage(input_tokens=tokens // 2, output_tokens=tokens - tokens // 2)
    await gate.after(call)


async def run(gate: RateLimitGate, persona: Any, n: int, **kw: Any) -> int:
    """Up to n calls one after the other; how many passed before the first 429."""
    for i in range(n):
        call = make_call(persona, **kw)
        try:
            await gate.before(call)
        except PolicyBlocked:
            return i
        await finish(gate, call)
    return n


@drive
async def test_300_concurrent_calls_against_100_per_minute_admit_exactly_100(
    owner: Any,
    store_mode: str,  # noqa: F811
) -> None:
    # On the test's own 3-node cluster (on this shared machine) one process's 300 calls queue
    # for the store's 32 slots longer than the gateway waits (then it answers 503): a third.
    calls_n, limit = (120, 40) if store_mode == "redis-cluster" else (300, 100)
    await sync_to_async(rate_policy)(owner, "org rpm", "organization", {"minute": (limit, None)})
    gate = RateLimitGate()
    calls = [make_call(owner) for _ in range(calls_n)]
    assert await admitted(gate, calls) == limit
    await asyncio.gather(*(finish(gate, c) for c in calls))
    assert await run(gate, owner, 1) == 0


@drive
async def test_300_concurrent_calls_against_a_token_limit_never_overshoot(
    owner: Any,
    store_mode: str,  # noqa: F811
) -> None:
    estimate = _tokens_bound(make_call(owner))
    limit = 7 * estimate + estimate // 2  # room for exactly 7 estimates
    await sync_to_async(rate_policy)(owner, "org tpm", "organization", {"minute": (None, limit)})
    gate = RateLimitGate()
    calls = [make_call(owner) for _ in range(120 if store_mode == "redis-cluster" else 300)]
    assert await admitted(gate, calls) == 7
    # Settled at 10 tokens each, the 7 calls free their estimates: more calls fit now.
    await asyncio.gather(*(finish(gate, c, tokens=10) for c in calls))
    assert await run(gate, owner, 3) == 3


@drive
async def test_the_429_says_when_a_slot_frees_and_names_the_policy(owner: Any) -> None:
    await sync_to_async(rate_policy)(
        owner, "two a minute", "workspace", {"minute": (2, None)}, workspace=owner.workspace
    )
    gate = RateLimitGate()
    start = time.time()
    with time_machine.travel(start, tick=False) as clock:
        assert await run(gate, owner, 1) == 1
        clock.move_to(start + 10)
        assert await run(gate, owner, 1) == 1
        clock.move_to(start + 30.2)
        call = make_call(owner)
        with pytest.raises(PolicyBlocked) as blocked:
            await gate.before(call)
        exc = blocked.value
        assert exc.status == 429
        assert (b"retry-after", b"30") in exc.headers  # the first call leaves at start + 60
        assert exc.metadata["policies"] == ["two a minute"] and exc.metadata["retry_after"] == 30
        assert exc.metadata["violations"][0]["metric"] == "requests"
        assert call.record.policy_results["violated"][0]["name"] == "two a minute"
        clock.move_to(start + 60.001)
        assert await run(gate, owner, 2) == 1  # the second call still holds the other slot


@drive
async def test_refused_calls_do_not_count_and_provider_failures_do(owner: Any) -> None:
    await sync_to_async(rate_policy)(owner, "org", "organization", {"minute": (3, None)})
    gate = RateLimitGate()
    for _ in range(5):  # refused by a later gate: never reached the provider
        call = make_call(owner)
        await gate.before(call)
        await finish(gate, call, reached=False)
    failed = make_call(owner)  # reached the provider, which answered 500
    await gate.before(failed)
    failed.upstream_status = 500
    await finish(gate, failed, tokens=0)
    assert await run(gate, owner, 5) == 2


@drive
async def test_every_limit_of_a_policy_holds(owner: Any) -> None:
    await sync_to_async(rate_policy)(
        owner, "org", "organization", {"minute": (5, None), "hour": (3, None)}
    )
    assert await run(RateLimitGate(), owner, 5) == 3


@drive
async def test_a_call_that_alone_exceeds_a_token_limit_is_told_not_to_retry(owner: Any) -> None:
    await sync_to_async(rate_policy)(owner, "tiny", "organization", {"minute": (None, 10)})
    with pytest.raises(PolicyBlocked) as blocked:
        await RateLimitGate().before(make_call(owner))
    assert (b"x-should-retry", b"false") in blocked.value.headers
    assert "lower max_tokens" in blocked.value.message


@drive
async def test_default_per_key_limits_each_key_and_an_override_replaces_it(owner: Any) -> None:
    def setup() -> tuple[Any, Any]:
        from orgs.models import Role
        from orgs.services import api_key_create

        role = Role.objects.get(builtin=True, name="WORKSPACE_ADMIN")
        other, third = (
            api_key_create(
                organization=owner.organization, workspace=owner.workspace, role=role
            ).api_key
            for _ in range(2)
        )
        rate_policy(
            owner,
            "each key",
            "api_key",
            {"minute": (2, None)},
            kind="default_per_member",
            workspace=owner.workspace,
        )
        rate_policy(owner, "third's own", "api_key", {"minute": (4, None)}, api_key=third)
        return other, third

    other, third = await sync_to_async(setup)()
    gate = RateLimitGate()
    assert await run(gate, owner, 5) == 2
    assert await run(gate, owner, 5, key=other) == 2
    assert await run(gate, owner, 5, key=third) == 4


@drive
async def test_a_customers_limit_holds_while_another_customer_is_served(owner: Any) -> None:
    await sync_to_async(rate_policy)(
        owner,
        "each customer",
        "customer",
        {"minute": (2, None)},
        kind="default_per_member",
        workspace=owner.workspace,
    )
    await sync_to_async(rate_policy)(
        owner, "acme", "customer", {"minute": (3, None)}, workspace=owner.workspace, customer="acme"
    )
    gate = RateLimitGate()

    async def calls_of(customer: str, n: int) -> int:
        for i in range(n):
            call = make_call(owner)
            call.record.customer = customer
            try:
                await gate.before(call)
            except PolicyBlocked as exc:
                assert exc.metadata["violations"][0]["member"] in (
                    None,
                    f"cust:{owner.workspace.pk}:{customer}",
                )
                return i
            await finish(gate, call)
        return n

    assert await calls_of("globex", 5) == 2
    assert await calls_of("initech", 5) == 2
    assert await calls_of("acme", 5) == 3  # its own policy replaces the default
    assert await run(gate, owner, 5) == 5  # calls naming no customer are not under these


@drive
async def test_listing_models_is_not_counted_and_count_tokens_uses_no_tokens(owner: Any) -> None:
    await sync_to_async(rate_policy)(owner, "org", "organization", {"minute": (2, 1)})
    gate = RateLimitGate()
    for _ in range(5):
        call = make_call(owner, endpoint="Models", body=None)
        await gate.before(call)
        await finish(gate, call, tokens=0)
    call = make_call(owner, endpoint="CountTokens")
    await gate.before(call)  # a request, no tokens: the 1-token limit does not refuse it
    await finish(gate, call, tokens=0)
    assert await run(gate, owner, 2, endpoint="CountTokens") == 1


@drive
async def test_a_disabled_policy_does_not_apply_and_changes_apply_to_the_next_call(
    owner: Any, django_capture_on_commit_callbacks: Any
) -> None:
    await sync_to_async(rate_policy)(owner, "org", "organization", {"minute": (1, None)})
    gate = RateLimitGate()
    assert await run(gate, owner, 3) == 1

    def change(**kw: Any) -> None:
        with django_capture_on_commit_callbacks(execute=True):  # the commit that invalidates
            rate_policy(owner, "org", "organization", **kw)

    await sync_to_async(change)(limits={"minute": (1, None)}, enabled=False)
    assert await run(gate, owner, 3) == 3
    await sync_to_async(change)(limits={"minute": (10, None)})
    assert await run(gate, owner, 20) == 10 - 1  # calls while it was disabled never counted


@pytest.mark.redis
@drive
async def test_redis_down_fails_closed_by_default_and_open_when_set(
    owner: Any, settings: Any
) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    await sync_to_async(rate_policy)(owner, "org", "organization", {"minute": (1, None)})
    gate = RateLimitGate()
    with pytest.raises(Exception) as exc:
        await gate.before(make_call(owner))
    assert getattr(exc.value, "status", None) == 503
    settings.GATEWAY_RATE_LIMIT_FAIL_OPEN = True
    call = make_call(owner)
    await gate.before(call)
    assert call.record.policy_results["rate_limit"] == {"unchecked": "counters unavailable"}
