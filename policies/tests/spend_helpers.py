"""Helpers shared by the spend tests: a call as the proxy hands it to gates, and a price under
which a request's maximum cost is easy to reason about."""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import async_to_sync

from hotpath.callrecord import CallRecord
from hotpath.context import RequestContext
from hotpath.errors import PolicyBlocked
from hotpath.gates import ProxyCall
from policies.spend.services import spend_policy_upsert
from pricing.table import Price

# Input is free and output costs $10,000 per 1M tokens: `max_tokens=100` reserves exactly $1.
PRICE = Price(
    model="gpt-test",
    provider="openai",
    input=0.0,
    output=10_000.0,
    cache_read=0.0,
    cache_write=0.0,
    max_output_tokens=1_000,
    context_window=100_000,
)
ONE_DOLLAR_BODY: dict[str, Any] = {
    "model": "gpt-test",
    "max_tokens": 100,
    "messages": [{"role": "user", "content": "hi"}],
}


def make_call(
    persona: Any,
    *,
    key: Any = None,
    body: dict[str, Any] | None = None,
    price: Price | None = PRICE,
    endpoint: str = "ChatCompletions",
) -> ProxyCall:
    key = key or persona.key
    ctx = RequestContext(
        organization_id=key.organization_id,
        workspace_id=key.workspace_id,
        key_id=key.pk,
        key_prefix=key.display_prefix,
        key_kind=key.kind,
        user_id=key.user_id,
        permissions=frozenset({"gateway:invoke", "workspaces:read"}),
        trace_content=False,
    )
    record = CallRecord(run_id=uuid.uuid4().hex, trace_id=uuid.uuid4().hex, started_at=time.time())
    return ProxyCall(
        ctx=ctx,
        dialect="openai",
        endpoint=endpoint,
        model="gpt-test",
        body=dict(ONE_DOLLAR_BODY) if body is None else body,
        stream=False,
        record=record,
        price=price,
    )


def policy(persona: Any, name: str, scope: str, windows: dict[str, str], **kw: Any) -> Any:
    return spend_policy_upsert(
        organization=persona.organization,
        name=name,
        scope=scope,
        windows={w: Decimal(v) for w, v in windows.items()},
        **kw,
    )


@pytest.fixture(
    params=[
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("redis-cluster", marks=pytest.mark.redis_cluster),
        "db",
    ]
)
def store_mode(request: Any, settings: Any) -> str:
    """Run a test against the Redis script (one server, and a Redis Cluster of 3 masters) and
    against the database counters."""
    from hotpath.redis_client import sync_client

    if request.param == "redis-cluster":
        settings.REDIS_URL = request.getfixturevalue("redis_cluster").url
    if request.param.startswith("redis"):
        if not settings.REDIS_URL:
            pytest.skip("needs REDIS_URL")
        client = sync_client(settings.REDIS_URL)
        client.flushdb()
        client.close()
    else:
        settings.REDIS_URL = ""
    return request.param


def drive(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test body under async_to_sync, so the gate's ORM work (sync_to_async,
    thread_sensitive) runs in this test's thread and sees its transaction: the plain `db`
    fixture suffices, no slow transactional flush per test."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        async_to_sync(fn)(*args, **kwargs)

    return wrapper


async def run_call(gate: Any, call: Any, cost: float = 1.0) -> None:
    """before → (the upstream call) → after, charging `cost`."""
    await gate.before(call)
    call.cost_usd = cost
    await gate.after(call)


async def spend(gate: Any, persona: Any, n: int, **kw: Any) -> int:
    """Run up to n $1 calls; return how many passed before the first block."""
    for i in range(n):
        try:
            await run_call(gate, make_call(persona, **kw))
        except PolicyBlocked:
            return i
    return n


def admin_form_data(org: Any, **over: Any) -> dict[str, Any]:
    """The spend limit admin's add form, one monthly window of $250, as a browser posts it."""
    data = {
        "organization": org.pk,
        "name": "team cap",
        "enabled": "on",
        "scope": "organization",
        "kind": "total",
        "unpriced_models": "refuse",
        "windows-TOTAL_FORMS": "1",
        "windows-INITIAL_FORMS": "0",
        "windows-MIN_NUM_FORMS": "1",
        "windows-MAX_NUM_FORMS": "1000",
        "windows-0-window": "monthly",
        "windows-0-limit_usd": "250",
    }
    data.update(over)
    return data
