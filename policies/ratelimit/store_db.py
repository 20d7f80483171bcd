"""Live rate-limit counters in the database, for the embedded mode (no REDIS_URL): the same
sliding logs as the Redis script (policies/ratelimit/store_redis.py), as rows every gateway
process shares. Synchronous (ORM); the gate runs these in a worker thread.

Why it is exact (the guarantee of the Redis script):
- a call's counters are rows locked in one transaction, in primary-key order (SELECT … FOR
  UPDATE on PostgreSQL; SQLite runs one writer at a time and the transaction's first statement
  is a write, so it holds the write lock from the start). While a call holds a counter's row no
  other call can admit itself on that counter, and once it commits the next one reads the log
  with its entry in it (READ COMMITTED reads what committed before each statement);
- under that lock it drops the entries that left the window, sums the rest, and either logs the
  call on every counter or, when one has no room, on none;
- one global lock order (counters by primary key) means two calls sharing counters cannot
  deadlock; settling touches only the call's own entries, never a counter row.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Sum

from policies.counters import serialised
from policies.ratelimit.models import RateLimitCounter, RateLimitEntry
from policies.ratelimit.store_redis import AdmitResult, RateCounter


def _ident(c: RateCounter) -> tuple[int, str, str, str]:
    return (c.policy_id, c.member, c.window, c.metric)


def _counter_ids(counters: list[RateCounter]) -> dict[tuple[int, str, str, str], int]:
    rows = RateLimitCounter.objects.filter(
        policy_id__in={c.policy_id for c in counters}, member__in={c.member for c in counters}
    ).values_list("pk", "policy_id", "member", "window", "metric")
    return {(p, m, w, k): pk for pk, p, m, w, k in rows}


def reserve(counters: list[RateCounter], *, reservation_id: str, now_ms: int) -> AdmitResult:
    """Log the call on every counter, or on none when one has no room."""
    return serialised(lambda: _reserve(counters, reservation_id, now_ms))


def _reserve(counters: list[RateCounter], reservation_id: str, now_ms: int) -> AdmitResult:
    with transaction.atomic():
        RateLimitCounter.objects.bulk_create(  # a write first (see the module docstring)
            [
                RateLimitCounter(
                    policy_id=c.policy_id, member=c.member, window=c.window, metric=c.metric
                )
                for c in sorted(counters, key=_ident)
            ],
            ignore_conflicts=True,
        )
        ids = _counter_ids(counters)
        locked = sorted({ids[_ident(c)] for c in counters})
        list(RateLimitCounter.objects.select_for_update().filter(pk__in=locked).order_by("pk"))
        levels: list[int] = []
        over: list[int] = []
        waits: list[int] = []
        for i, c in enumerate(counters):
            cid = ids[_ident(c)]
            RateLimitEntry.objects.filter(counter_id=cid, at_ms__lte=now_ms - c.window_ms).delete()
            level = (
                RateLimitEntry.objects.filter(counter_id=cid).aggregate(s=Sum("amount"))["s"] or 0
            )
            levels.append(level)
            if level + c.amount > c.limit:
                over.append(i)
                waits.append(_wait_ms(cid, c, level, now_ms))
        if over:
            return AdmitResult(
                ok=False, over=tuple(over), levels=tuple(levels), waits_ms=tuple(waits)
            )
        RateLimitEntry.objects.bulk_create(
            RateLimitEntry(
                counter_id=ids[_ident(c)],
                reservation_id=reservation_id,
                at_ms=now_ms,
                amount=c.amount,
            )
            for c in counters
        )
    return AdmitResult(ok=True)


def _wait_ms(counter_id: int, c: RateCounter, level: int, now_ms: int) -> int:
    """Milliseconds until the oldest entries leaving the window make room (-1: never)."""
    if c.amount > c.limit:
        return -1
    need = level + c.amount - c.limit
    freed = 0
    entries = RateLimitEntry.objects.filter(counter_id=counter_id).order_by("at_ms", "pk")
    for at_ms, amount in entries.values_list("at_ms", "amount").iterator():
        freed += amount
        if freed >= need:
            return at_ms + c.window_ms - now_ms
    return -1  # pragma: no cover  (the entries sum to the level, which exceeds `need`)


def settle(counters: list[RateCounter], *, reservation_id: str, actual: list[int]) -> None:
    """Replace the call's amount on each counter by `actual` (0 removes the call)."""
    serialised(lambda: _settle(counters, reservation_id, actual))


def _settle(counters: list[RateCounter], reservation_id: str, actual: list[int]) -> None:
    ids = _counter_ids(counters)
    order = sorted((ids[_ident(c)], i) for i, c in enumerate(counters) if _ident(c) in ids)
    with transaction.atomic():
        for cid, i in order:
            entries = RateLimitEntry.objects.filter(counter_id=cid, reservation_id=reservation_id)
            if actual[i] == 0:
                entries.delete()
            else:
                entries.update(amount=actual[i])


def levels(counters: list[RateCounter], *, now_ms: int) -> list[int]:
    """What each counter holds in the window ending now (read only)."""
    ids = _counter_ids(counters)
    out = []
    for c in counters:
        cid = ids.get(_ident(c))
        if cid is None:
            out.append(0)
            continue
        total = RateLimitEntry.objects.filter(
            counter_id=cid, at_ms__gt=now_ms - c.window_ms
        ).aggregate(s=Sum("amount"))["s"]
        out.append(total or 0)
    return out
