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

Cost per call (the check sits on every call's path): the counters of a set of matching
policies and members are built once per snapshot, with their keys, windows and limits already
encoded for the script (store_redis.RateCounters), so a call adds only its amounts, the clock
and its id to one script round trip.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.conf import settings

from hotpath.errors import PolicyBlocked, ProxyError
from hotpath.redis_client import REDIS_ERRORS
from hotpath.snapshot import Snapshot
from policies.outcomes import record_outcome
from policies.ratelimit.snapshot import RateLimitSnapshot, RateRule, load_snapshot
from policies.ratelimit.store_redis import AdmitResult, RateCounter, RateCounters, store_for_loop
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
    counters: RateCounters
    reservation_id: str
    redis: bool


PREPARED_MAX = 4096  # sets of counters a gate keeps prepared (cleared when full, or on reload)


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


def counters_for(matches: list[Match[RateRule]], *, uses_tokens: bool) -> RateCounters:
    """One counter per (match, window, metric) the policy limits; a request counter's amount
    is 1, a token counter's 0 until the call's bound is known (RateCounters.amounts)."""
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
                counters.append(
                    RateCounter(**common, metric="tokens", limit=limit.max_tokens, amount=0)
                )
    return RateCounters.prepare(counters)


class RateLimitGate:
    """Instantiated once per process by hotpath.gates.load_gates."""

    def __init__(self) -> None:
        # Every enabled policy, reloaded when one changes anywhere (topic "ratelimit").
        self._snapshot: Snapshot[RateLimitSnapshot] = Snapshot(
            "rate limits", ("ratelimit",), load_snapshot
        )
        self._held: dict[int, _Held] = {}
        # The prepared counters of each set of matches seen, for the snapshot they came from.
        self._prepared: dict[tuple[Any, ...], RateCounters] = {}
        self._prepared_for: RateLimitSnapshot | None = None

    def _counters(
        self, snapshot: RateLimitSnapshot, matches: list[Match[RateRule]], uses_tokens: bool
    ) -> RateCounters:
        if snapshot is not self._prepared_for or len(self._prepared) >= PREPARED_MAX:
            self._prepared = {}
            self._prepared_for = snapshot
        ident = (uses_tokens, *[(m.rule.id, m.member) for m in matches])
        prepared = self._prepared.get(ident)
        if prepared is None:
            prepared = self._prepared[ident] = counters_for(matches, uses_tokens=uses_tokens)
        return prepared

    async def before(self, call: ProxyCall) -> None:
        snapshot = self._snapshot.current()
        if snapshot is None:
            snapshot = await self._snapshot.get()
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
        counters = self._counters(
            snapshot, matches, estimate.is_chargeable(call.endpoint, call.body)
        )
        if not counters.counters:
            record_outcome(call, "rate_limit", matches, set())
            return
        amounts = counters.amounts(_tokens_bound(call) if counters.token_indexes else 0)
        reservation_id = uuid.uuid4().hex
        result = await self._reserve(counters, amounts, reservation_id, int(time.time() * 1000))
        if result is None:  # Redis down and the gateway fails open
            record_outcome(call, "rate_limit", matches, set())
            call.record.policy_results["rate_limit"] = {"unchecked": "counters unavailable"}
            return
        if not result.ok:
            raise _over(call, matches, counters.counters, amounts, result)
        self._held[id(call)] = _Held(counters, reservation_id, redis=bool(settings.REDIS_URL))
        record_outcome(call, "rate_limit", matches, set())

    async def after(self, call: ProxyCall) -> None:
        held = self._held.pop(id(call), None)
        if held is None:
            return
        if call.sent_body is None:  # never reached the provider: not counted
            actual = [0] * len(held.counters.counters)
        else:
            usage = call.usage
            tokens = usage.input_tokens + usage.output_tokens if usage is not None else 0
            actual = held.counters.amounts(tokens)
        try:
            if held.redis:
                store = store_for_loop(settings.REDIS_URL)
                await store.settle(held.counters, reservation_id=held.reservation_id, actual=actual)
            else:
                from policies.ratelimit import store_db

                await _in_db_thread(
                    store_db.settle,
                    list(held.counters.counters),
                    reservation_id=held.reservation_id,
                    actual=actual,
                )
        except REDIS_ERRORS:
            # The entry keeps its estimate until it leaves the window: over-counted, never under.
            logger.warning("could not settle rate-limit entry %s", held.reservation_id)

    async def _reserve(
        self, counters: RateCounters, amounts: list[int], reservation_id: str, now_ms: int
    ) -> AdmitResult | None:
        if not settings.REDIS_URL:
            from policies.ratelimit import store_db

            with_amounts = [
                replace(c, amount=a) for c, a in zip(counters.counters, amounts, strict=True)
            ]
            return await _in_db_thread(
                store_db.reserve, with_amounts, reservation_id=reservation_id, now_ms=now_ms
            )
        try:
            store = store_for_loop(settings.REDIS_URL)
            return await store.reserve(
                counters, reservation_id=reservation_id, now_ms=now_ms, amounts=amounts
            )
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


async def _release_quietly(counters: RateCounters, reservation_id: str) -> None:
    """The script may have run and only its answer been lost: take the call off again."""
    try:
        store = store_for_loop(settings.REDIS_URL)
        await store.settle(
            counters, reservation_id=reservation_id, actual=[0] * len(counters.counters)
        )
    except REDIS_ERRORS:
        logger.warning("could not release rate-limit entry %s", reservation_id)


def _over(
    call: ProxyCall,
    matches: list[Match[RateRule]],
    counters: tuple[RateCounter, ...],
    amounts: list[int],
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
                "requested": amounts[i],
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
