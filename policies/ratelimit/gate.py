"""The rate-limit gate: admit a call on every matching limit before it is forwarded, settle its
token count after it ends (contract in hotpath/gates.py).

before(call): match the call against the in-process policy snapshot; one counter per (policy,
member, window, metric): a request counter takes 1, a token counter the most the call can use
(the spend estimate's bound: policies/spend/estimate.py); admit on all of them at once — Redis
(one Lua script, store_redis.py) or, without REDIS_URL, the database (store_db.py); any counter
without room → 429 in the caller's dialect with Retry-After (whole seconds until the first
full counter has room) and the policies named in x-gateway-metadata.
after(call): a call that never reached the provider (refused by a later gate, a connection
that never opened) is taken off every counter: refused calls do not count. A call that did
keeps its request and has its token estimate replaced by the tokens it used (input + output),
whatever the provider answered: a call the provider failed still reached it.

Listing models is not counted. Counting tokens is a request (the provider serves it) that uses
no tokens. Redis unreachable: settings.GATEWAY_RATE_LIMIT_FAIL_OPEN decides (503 by default).
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.conf import settings

from hotpath.errors import PolicyBlocked, ProxyError
from hotpath.redis_client import REDIS_ERRORS
from hotpath.snapshot import Snapshot
from policies.outcomes import record_outcome
from policies.ratelimit.snapshot import RateLimitSnapshot, RateRule, load_snapshot
from policies.ratelimit.store_redis import AdmitResult, RateCounter, store_for_loop
from policies.spend import estimate

if TYPE_CHECKING:
    from hotpath.gates import ProxyCall
    from policies.subjects import Match

logger = logging.getLogger(__name__)

NOT_COUNTED = frozenset({"Models", "ListModels", "GetModel"})


class RateLimitUnavailable(ProxyError):
    """Rate-limit counters cannot be reached and the gateway fails closed."""

    status = 503


@dataclass(slots=True)
class _Held:
    counters: list[RateCounter]
    reservation_id: str
    redis: bool


async def _in_db_thread(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """ORM work off the event loop, in Django's one thread for sync code."""
    return await sync_to_async(fn, thread_sensitive=True)(*args, **kwargs)


def _tokens_bound(call: ProxyCall) -> int:
    price = call.price
    tokens = estimate.token_bounds(
        endpoint=call.endpoint,
        body=call.body or {},
        model_max_output=price.max_output_tokens if price else None,
        context_window=price.context_window if price else None,
        default_max_output=settings.GATEWAY_SPEND_DEFAULT_MAX_OUTPUT_TOKENS,
    )
    return tokens[0] + tokens[1]


def counters_for(call: ProxyCall, matches: list[Match[RateRule]]) -> list[RateCounter]:
    """One counter per (match, window, metric) the policy limits."""
    uses_tokens = estimate.is_chargeable(call.endpoint, call.body)
    tokens: int | None = None
    counters: list[RateCounter] = []
    for m in matches:
        rule = m.rule
        for limit in rule.limits:
            common = {
                "organization_id": rule.organization_id,
                "policy_id": rule.id,
                "member": m.member,
                "window": limit.window,
                "seconds": limit.seconds,
            }
            if limit.max_requests is not None:
                counters.append(
                    RateCounter(**common, metric="requests", limit=limit.max_requests, amount=1)
                )
            if limit.max_tokens is not None and uses_tokens:
                if tokens is None:  # the body is serialised once, whatever the policies
                    tokens = _tokens_bound(call)
                counters.append(
                    RateCounter(**common, metric="tokens", limit=limit.max_tokens, amount=tokens)
                )
    return counters


class RateLimitGate:
    """Instantiated once per process by hotpath.gates.load_gates."""

    def __init__(self) -> None:
        # Every enabled policy, reloaded when one changes anywhere (topic "ratelimit").
        self._snapshot: Snapshot[RateLimitSnapshot] = Snapshot(
            "rate limits", ("ratelimit",), load_snapshot
        )
        self._held: dict[int, _Held] = {}

    async def before(self, call: ProxyCall) -> None:
        snapshot = self._snapshot.current() or await self._snapshot.get()
        if not snapshot.size or call.endpoint in NOT_COUNTED:
            return
        ctx = call.ctx
        matches = snapshot.match(
            organization_id=ctx.organization_id,
            workspace_id=ctx.workspace_id,
            key_id=ctx.key_id,
            user_id=ctx.user_id,
            customer=call.record.customer,
        )
        if not matches:
            return
        counters = counters_for(call, matches)
        if not counters:
            record_outcome(call, "rate_limit", matches, set())
            return
        reservation_id = uuid.uuid4().hex
        result = await self._reserve(counters, reservation_id, int(time.time() * 1000))
        if result is None:  # Redis down and the gateway fails open
            record_outcome(call, "rate_limit", matches, set())
            call.record.policy_results["rate_limit"] = {"unchecked": "counters unavailable"}
            return
        if not result.ok:
            raise _over(call, matches, counters, result)
        self._held[id(call)] = _Held(counters, reservation_id, redis=bool(settings.REDIS_URL))
        record_outcome(call, "rate_limit", matches, set())

    async def after(self, call: ProxyCall) -> None:
        held = self._held.pop(id(call), None)
        if held is None:
            return
        if call.sent_body is None:  # never reached the provider: not counted
            actual = [0] * len(held.counters)
        else:
            usage = call.usage
            tokens = usage.input_tokens + usage.output_tokens if usage is not None else 0
            actual = [1 if c.metric == "requests" else tokens for c in held.counters]
        try:
            if held.redis:
                store = store_for_loop(settings.REDIS_URL)
                await store.settle(held.counters, reservation_id=held.reservation_id, actual=actual)
            else:
                from policies.ratelimit import store_db

                await _in_db_thread(
                    store_db.settle,
                    held.counters,
                    reservation_id=held.reservation_id,
                    actual=actual,
                )
        except REDIS_ERRORS:
            # The entry keeps its estimate until it leaves the window: over-counted, never under.
            logger.warning("could not settle rate-limit entry %s", held.reservation_id)

    async def _reserve(
        self, counters: list[RateCounter], reservation_id: str, now_ms: int
    ) -> AdmitResult | None:
        if not settings.REDIS_URL:
            from policies.ratelimit import store_db

            return await _in_db_thread(
                store_db.reserve, counters, reservation_id=reservation_id, now_ms=now_ms
            )
        try:
            store = store_for_loop(settings.REDIS_URL)
            return await store.reserve(counters, reservation_id=reservation_id, now_ms=now_ms)
        except REDIS_ERRORS as exc:
            logger.warning("rate-limit counters unreachable: %s: %s", type(exc).__name__, exc)
            await _release_quietly(counters, reservation_id)
            if settings.GATEWAY_RATE_LIMIT_FAIL_OPEN:
                return None
            raise RateLimitUnavailable(
                "rate limits cannot be checked right now (the counter store is unreachable); "
                "the gateway refuses calls under a rate limit until it is back",
                metadata={"reason": "rate_limit_store_unavailable"},
            ) from exc


async def _release_quietly(counters: list[RateCounter], reservation_id: str) -> None:
    """The script may have run and only its answer been lost: take the call off again."""
    try:
        store = store_for_loop(settings.REDIS_URL)
        await store.settle(counters, reservation_id=reservation_id, actual=[0] * len(counters))
    except REDIS_ERRORS:
        logger.warning("could not release rate-limit entry %s", reservation_id)


def _over(
    call: ProxyCall,
    matches: list[Match[RateRule]],
    counters: list[RateCounter],
    result: AdmitResult,
) -> PolicyBlocked:
    """The 429: every full counter named, Retry-After the whole seconds until the first of
    them has room again (the call needs room on all, so the longest wait)."""
    rules = {m.rule.id: m.rule for m in matches}
    violations = []
    never = False
    wait_ms = 0
    for i, wait in zip(result.over, result.waits_ms, strict=True):
        c = counters[i]
        rule = rules[c.policy_id]
        never = never or wait < 0
        wait_ms = max(wait_ms, wait)
        violations.append(
            {
                "policy_id": rule.id,
                "policy": rule.name,
                "scope": rule.scope,
                "member": c.member or None,
                "window": c.window,
                "metric": c.metric,
                "limit": c.limit,
                "used": result.levels[i],
                "requested": c.amount,
            }
        )
    names = sorted({v["policy"] for v in violations})
    record_outcome(call, "rate_limit", matches, {v["policy_id"] for v in violations})
    call.record.policy_results["rate_limit"] = {"violations": violations}
    described = "; ".join(
        f"{v['policy']}: {v['limit']} {v['metric']} per {v['window']}" for v in violations
    )
    if never:
        # Waiting cannot help: the call alone needs more tokens than the limit allows. The
        # SDKs are told not to retry (x-should-retry, which the official SDKs honour).
        retry_after = max(c.seconds for c in counters)
        message = (
            f"this call may use up to {violations[0]['requested']} tokens, more than "
            f"{described} allows (lower max_tokens or the input)"
        )
        headers = [(b"retry-after", str(retry_after).encode()), (b"x-should-retry", b"false")]
    else:
        retry_after = max(1, math.ceil(wait_ms / 1000))
        message = f"{described}; retry in {retry_after} s"
        headers = [(b"retry-after", str(retry_after).encode())]
    return PolicyBlocked(
        429,
        f"request blocked by gateway rate limits: {message}",
        {
            "reason": "rate_limit",
            "policies": names,
            "scopes": sorted({v["scope"] for v in violations}),
            "windows": sorted({v["window"] for v in violations}),
            "retry_after": retry_after,
            "violations": violations,
        },
        headers=headers,
    )
