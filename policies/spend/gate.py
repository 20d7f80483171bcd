"""The spend gate: reserve a call's maximum cost before it is forwarded, settle the actual cost
after it ends (contract in hotpath/gates.py).

before(call): match the call against the in-process policy snapshot; compute the most the call
can cost (policies/spend/estimate.py); reserve it on every matching (policy, member, window)
counter at once — Redis (one Lua script, policies/spend/store_redis.py) or, without REDIS_URL, the
database (policies/spend/store_db.py); any counter without room → 402 naming the policies.
after(call): replace the reservation by the actual cost the proxy measured (streams and
disconnects included: the proxy sets usage from what it saw).

Heartbeat: a reservation expires GATEWAY_SPEND_RESERVATION_TTL seconds after it was made or
last extended, so that a dead process's reservations free their budget. A stream is bounded by
its idle time only and may last longer, so while calls are in flight one timer per process (on
its event loop, armed by the first reservation, idle when none is held) pushes the expiry of
every reservation this process holds forward, every TTL/3, in one store round trip (one Redis
pipeline, or one database transaction). A process that dies stops beating, and its
reservations expire at most one TTL after its last beat.

Redis unreachable: settings.GATEWAY_SPEND_FAIL_OPEN decides; by default the call is refused with
503 (fail closed) — only calls that fall under a spend policy, others never touch Redis.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError

from hotpath.errors import PolicyBlocked, ProxyError
from hotpath.redis_client import REDIS_ERRORS
from hotpath.snapshot import Snapshot
from policies.outcomes import record_outcome
from policies.spend import estimate as spend_estimate
from policies.spend.snapshot import Match, PolicyRule, SpendSnapshot, load_snapshot, usd_to_micros
from policies.spend.store_redis import Counter, ReserveResult, store_for_loop
from policies.spend.windows import window_start

if TYPE_CHECKING:
    from hotpath.gates import ProxyCall

logger = logging.getLogger(__name__)
UTC = dt.UTC


async def _in_db_thread(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run ORM work off the event loop, in Django's one thread for sync code (asgiref's
    thread_sensitive mode): the gate's database work is rare with Redis (snapshot loads,
    rebuilds) and, without Redis, is serialised per process anyway (spend_store_db)."""
    return await sync_to_async(fn, thread_sensitive=True)(*args, **kwargs)


class SpendUnavailable(ProxyError):
    """Spend counters cannot be reached and the gateway fails closed."""

    status = 503


@dataclass(slots=True)
class _Held:
    counters: list[Counter]
    rules: list[PolicyRule]  # parallel to counters
    reservation_id: str
    redis: bool


def _rates(call: ProxyCall, rule: PolicyRule) -> spend_estimate.Rates | None:
    price = call.price
    if price is not None:
        return spend_estimate.Rates(input=max(price.input, price.cache_write), output=price.output)
    if rule.unpriced == "fallback":
        return spend_estimate.Rates(
            input=rule.fallback_input or 0.0, output=rule.fallback_output or 0.0
        )
    return None


def _record(call: ProxyCall, matches: list[Match], violated: set[int]) -> None:
    record_outcome(call, "spend", matches, violated)


def _blocked(
    call: ProxyCall, matches: list[Match], violations: list[dict[str, Any]], reason: str
) -> PolicyBlocked:
    names = sorted({v["policy"] for v in violations})
    _record(call, matches, {v["policy_id"] for v in violations})
    call.record.policy_results["spend"] = {"violations": violations}
    message = f"request blocked by gateway policies: {', '.join(names)}"
    if reason != "spend_limit":
        message += f" ({violations[0]['detail']})"
    return PolicyBlocked(
        402,
        message,
        {
            "reason": reason,
            "policies": names,
            "scopes": sorted({v["scope"] for v in violations}),
            "windows": sorted({v["window"] for v in violations if v.get("window")}),
            "violations": violations,
        },
    )


class SpendGate:
    """Instantiated once per process by hotpath.gates.load_gates."""

    def __init__(self) -> None:
        # Every enabled policy, reloaded when one changes anywhere (topic "spend").
        self._snapshot: Snapshot[SpendSnapshot] = Snapshot(
            "spend policies", ("spend",), load_snapshot
        )
        self._held: dict[int, _Held] = {}
        self._seen_members: set[tuple[int, str]] = set()
        # Budget alert thresholds this process already claimed (or saw claimed): each is
        # claimed in the database once per window, whichever process gets there first.
        self._alerted: set[tuple[int, str, str, dt.datetime, int]] = set()
        # Background database work (alert claims, member rows): referenced until done, so the
        # event loop cannot drop a task midway.
        self._background: set[asyncio.Future[None]] = set()
        # The heartbeat (module docstring): the one pending timer of this process, the loop it
        # belongs to, and whether an extension round trip is under way.
        self._heartbeat: asyncio.TimerHandle | None = None
        self._heartbeat_loop: asyncio.AbstractEventLoop | None = None
        self._extending = False

    async def idle(self) -> None:
        """Wait for this gate's background database work to finish (tests, shutdown)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    def _spawn(self, fn: Any, *args: Any, on_failure: Any) -> None:
        task = asyncio.ensure_future(_in_db_thread(fn, *args))
        self._background.add(task)

        def done(finished: asyncio.Future[None]) -> None:
            self._background.discard(finished)
            if not finished.cancelled() and finished.exception() is not None:
                on_failure(finished.exception())

        task.add_done_callback(done)

    async def before(self, call: ProxyCall) -> None:
        ctx = call.ctx
        snapshot = self._snapshot.current()
        if snapshot is None:
            snapshot = await self._snapshot.get()
        if not snapshot.size:
            return
        matches = snapshot.match(
            organization_id=ctx.organization_id,
            workspace_id=ctx.workspace_id,
            key_id=ctx.key_id,
            user_id=ctx.user_id,
            customer=call.record.customer,
        )
        if not matches:
            return
        if not spend_estimate.is_chargeable(call.endpoint, call.body):
            _record(call, matches, set())
            return
        now = time.time()
        counters = self._counters(call, matches, now)
        reservation_id = uuid.uuid4().hex
        result = await self._reserve(call, counters, reservation_id, now)
        if result is None:  # Redis down and the gateway fails open
            _record(call, matches, set())
            call.record.policy_results["spend"] = {"unchecked": "spend counters unavailable"}
            return
        if not result.ok:
            self._alert_refused(matches, counters, result)
            raise self._over(call, matches, counters, result)
        self._held[id(call)] = _Held(
            counters,
            [self._rule_of(matches, c) for c in counters],
            reservation_id,
            redis=bool(settings.REDIS_URL),
        )
        _record(call, matches, set())
        self._materialise(matches)
        self._arm_heartbeat()

    async def after(self, call: ProxyCall) -> None:
        held = self._held.pop(id(call), None)
        if held is None:
            return
        actual = [self._actual_micros(call, rule) for rule in held.rules]
        try:
            if held.redis:
                store = store_for_loop(settings.REDIS_URL)
                levels = await store.settle(
                    held.counters, reservation_id=held.reservation_id, actual=actual
                )
            else:
                from policies.spend import store_db as spend_store_db

                levels = await _in_db_thread(
                    spend_store_db.settle,
                    held.counters,
                    reservation_id=held.reservation_id,
                    actual=actual,
                )
        except REDIS_ERRORS:
            # The reservation expires on its own; the usage row still reaches PostgreSQL,
            # and the next rebuild of this counter counts it.
            logger.warning("could not settle spend reservation %s", held.reservation_id)
            return
        self._alert(held, levels)

    # -- heartbeat ----------------------------------------------------------------------------
    def _arm_heartbeat(self) -> None:
        """Make sure the timer runs while a reservation is held (one per process and loop)."""
        loop = asyncio.get_running_loop()
        if self._heartbeat is not None and self._heartbeat_loop is loop:
            return
        self._heartbeat_loop = loop
        self._heartbeat = loop.call_later(settings.GATEWAY_SPEND_RESERVATION_TTL / 3, self._beat)

    def _beat(self) -> None:
        """The timer fired: extend every reservation held now and re-arm while any is; with
        none held the timer stops until the next reservation arms it."""
        self._heartbeat = None
        if not self._held:
            return
        self._arm_heartbeat()
        if self._extending:  # the last round trip has not answered yet: it extends them
            return
        self._extending = True
        held = list(self._held.values())
        task = asyncio.ensure_future(self._extend(held))
        self._background.add(task)

        def done(finished: asyncio.Future[None]) -> None:
            self._extending = False
            self._background.discard(finished)

        task.add_done_callback(done)

    async def _extend(self, held: list[_Held]) -> None:
        """One round trip per store for every reservation held; a failure is logged and the
        next beat tries again (a reservation outlives a missed beat: the TTL is 3 beats)."""
        new_expiry = time.time() + settings.GATEWAY_SPEND_RESERVATION_TTL
        on_redis = [(h.counters, h.reservation_id) for h in held if h.redis]
        in_db = [h.reservation_id for h in held if not h.redis]
        if on_redis:
            try:
                store = store_for_loop(settings.REDIS_URL)
                await store.extend(on_redis, expires_ms=int(new_expiry * 1000))
            except REDIS_ERRORS as exc:
                logger.warning("could not extend %d spend reservations: %s", len(on_redis), exc)
        if in_db:
            from policies.spend import store_db as spend_store_db

            try:
                await _in_db_thread(
                    spend_store_db.extend,
                    in_db,
                    expires_at=dt.datetime.fromtimestamp(new_expiry, UTC),
                )
            except DatabaseError as exc:
                logger.warning("could not extend %d spend reservations: %s", len(in_db), exc)

    # -- helpers ------------------------------------------------------------------------------
    @staticmethod
    def _rule_of(matches: list[Match], counter: Counter) -> PolicyRule:
        return next(m.rule for m in matches if m.rule.id == counter.policy_id)

    def _counters(self, call: ProxyCall, matches: list[Match], now: float) -> list[Counter]:
        """One counter per (match, window), each with the call's maximum cost at its rates.
        A model without a price under a policy that refuses unpriced models → 402."""
        moment = dt.datetime.fromtimestamp(now, UTC)
        price = call.price
        counters: list[Counter] = []
        refusing: list[dict[str, Any]] = []
        tokens: tuple[int, int] | None = None
        for m in matches:
            rates = _rates(call, m.rule)
            if rates is None:
                refusing.append(
                    {
                        "policy_id": m.rule.id,
                        "policy": m.rule.name,
                        "scope": m.rule.scope,
                        "detail": f"model {call.model!r} has no price; a spend limit applies to this "
                        "call (add the model to the price table or set a fallback price on the policy)",
                    }
                )
                continue
            if tokens is None:  # the body is serialised once, whatever the number of policies
                tokens = spend_estimate.token_bounds(
                    endpoint=call.endpoint,
                    body=call.body or {},
                    model_max_output=price.max_output_tokens if price else None,
                    context_window=price.context_window if price else None,
                    default_max_output=settings.GATEWAY_SPEND_DEFAULT_MAX_OUTPUT_TOKENS,
                )
            amount = usd_to_micros(spend_estimate.cost_of(tokens, rates))
            for w in m.rule.windows:
                counters.append(
                    Counter(
                        organization_id=m.rule.organization_id,
                        policy_id=m.rule.id,
                        member=m.member,
                        window=w.window,
                        window_start=window_start(w.window, moment),
                        limit_micros=w.limit_micros,
                        amount_micros=amount,
                    )
                )
        if refusing:
            raise _blocked(call, matches, refusing, "model_unpriced")
        return counters

    async def _reserve(
        self, call: ProxyCall, counters: list[Counter], reservation_id: str, now: float
    ) -> ReserveResult | None:
        ttl = settings.GATEWAY_SPEND_RESERVATION_TTL
        if not settings.REDIS_URL:
            return await _in_db_thread(_reserve_db, counters, reservation_id, now, ttl)
        try:
            store = store_for_loop(settings.REDIS_URL)
            result = await store.reserve(
                counters, reservation_id=reservation_id, now=now, ttl_seconds=ttl
            )
            if result.missing:
                baselines = await _in_db_thread(_baselines, counters, now)
                result = await store.reserve(
                    counters,
                    reservation_id=reservation_id,
                    now=now,
                    ttl_seconds=ttl,
                    baselines=baselines,
                )
            return result
        except REDIS_ERRORS as exc:
            logger.warning("spend counters unreachable: %s: %s", type(exc).__name__, exc)
            # The script may have run and only its answer been lost: release the reservation
            # (settling 0 is a no-op for a reservation that does not exist).
            await self._release_quietly(counters, reservation_id)
            if settings.GATEWAY_SPEND_FAIL_OPEN:
                return None
            raise SpendUnavailable(
                "spend limits cannot be checked right now (the counter store is unreachable); "
                "the gateway refuses calls under a spend limit until it is back",
                metadata={"reason": "spend_store_unavailable"},
            ) from exc

    @staticmethod
    async def _release_quietly(counters: list[Counter], reservation_id: str) -> None:
        try:
            store = store_for_loop(settings.REDIS_URL)
            await store.settle(counters, reservation_id=reservation_id, actual=[0] * len(counters))
        except REDIS_ERRORS:
            logger.warning(
                "could not release spend reservation %s; it expires on its own", reservation_id
            )

    @staticmethod
    def _over(
        call: ProxyCall, matches: list[Match], counters: list[Counter], result: ReserveResult
    ) -> PolicyBlocked:
        violations = []
        for i in result.over:
            c = counters[i]
            rule = next(m.rule for m in matches if m.rule.id == c.policy_id)
            violations.append(
                {
                    "policy_id": rule.id,
                    "policy": rule.name,
                    "scope": rule.scope,
                    "member": c.member or None,
                    "window": c.window,
                    "window_start": c.window_start.isoformat(),
                    "limit_usd": c.limit_micros / 1e6,
                    "spent_usd": (result.levels[i] / 1e6) if result.levels else None,
                }
            )
        return _blocked(call, matches, violations, "spend_limit")

    @staticmethod
    def _actual_micros(call: ProxyCall, rule: PolicyRule) -> int:
        if call.cost_usd is not None:
            return usd_to_micros(call.cost_usd)
        usage = call.usage
        if usage is None or call.price is not None or rule.unpriced != "fallback":
            return 0
        cost = (  # input_tokens counts every input token, cache reads and writes included
            usage.input_tokens * (rule.fallback_input or 0)
            + usage.output_tokens * (rule.fallback_output or 0)
        ) / 1e6
        return usd_to_micros(cost)

    def _alert(self, held: _Held, levels: list[int | None]) -> None:
        """Claim the budget alert thresholds this settlement reached, off the request path."""
        self._claim(
            [
                (counter, rule, level, False)
                for counter, rule, level in zip(held.counters, held.rules, levels, strict=False)
                if rule.alert_at and level is not None
            ]
        )

    def _alert_refused(
        self, matches: list[Match], counters: list[Counter], result: ReserveResult
    ) -> None:
        """A window that refused a call has its cap biting: its thresholds up to 100 % are
        reached (the settled spend of the last admitted call stays below the limit by up to
        that call's reservation, so 100 % is otherwise rarely reached)."""
        if not result.levels:
            return
        self._claim(
            [
                (counters[i], rule, result.levels[i], True)
                for i in result.over
                if (rule := self._rule_of(matches, counters[i])).alert_at
            ]
        )

    def _claim(self, reached: list[tuple[Counter, PolicyRule, int, bool]]) -> None:
        """The database's unique constraint makes each (policy, member, window, window start,
        threshold) one alert across every process; `_alerted` only spares repeated claims."""
        claims = []
        for counter, rule, level, refused in reached:
            if counter.limit_micros <= 0:
                continue
            for threshold in rule.alert_at:
                if level * 100 < threshold * counter.limit_micros and not (
                    refused and threshold <= 100
                ):
                    break  # thresholds are sorted
                ident = (
                    counter.policy_id,
                    counter.member,
                    counter.window,
                    counter.window_start,
                    threshold,
                )
                if ident not in self._alerted:
                    claims.append((*ident, level, counter.limit_micros))
        if not claims:
            return
        if len(self._alerted) > 50_000:  # old windows' entries; claiming again is harmless
            self._alerted.clear()
        idents = {claim[:5] for claim in claims}
        self._alerted.update(idents)

        def forget(exc: BaseException) -> None:
            logger.warning("could not claim budget alerts: %s", exc)
            self._alerted.difference_update(idents)

        self._spawn(_claim_alerts, claims, on_failure=forget)

    def _materialise(self, matches: list[Match]) -> None:
        """Create the per-member rows of default-per-member policies on first use, off the
        request path (a lost write is redone by the next call of that member)."""
        new = [
            (m.rule.id, m.member)
            for m in matches
            if m.member and (m.rule.id, m.member) not in self._seen_members
        ]
        if not new:
            return
        self._seen_members.update(new)
        self._spawn(
            _materialise_members,
            new,
            on_failure=lambda _exc: self._seen_members.difference_update(new),
        )


def _baselines(counters: list[Counter], now: float) -> list[int]:
    from policies.spend.models import SpendPolicy
    from policies.spend.selectors import counter_baseline_micros
    from policies.spend.snapshot import rule_from_policy

    moment = dt.datetime.fromtimestamp(now, UTC)
    policies = {
        p.pk: rule_from_policy(p)
        for p in SpendPolicy.objects.filter(
            pk__in={c.policy_id for c in counters}
        ).prefetch_related("windows")
    }
    out = []
    for c in counters:
        rule = policies.get(c.policy_id)
        out.append(
            0
            if rule is None
            else counter_baseline_micros(rule, c.member, c.window, c.window_start, moment)
        )
    return out


def _reserve_db(
    counters: list[Counter], reservation_id: str, now: float, ttl: float
) -> ReserveResult:
    from policies.spend import store_db as spend_store_db

    return spend_store_db.reserve(
        counters,
        reservation_id=reservation_id,
        now=now,
        ttl_seconds=ttl,
        baseline=lambda missing: _baselines(missing, now),
    )


def _materialise_members(pairs: list[tuple[int, str]]) -> None:
    from policies.spend.models import SpendPolicyMember

    SpendPolicyMember.objects.bulk_create(
        [SpendPolicyMember(policy_id=p, member=m) for p, m in pairs], ignore_conflicts=True
    )


def _claim_alerts(claims: list[tuple[int, str, str, dt.datetime, int, int, int]]) -> None:
    from policies.spend.alerts import alerts_claim

    alerts_claim(claims)
