"""Live spend counters in the database, for the embedded mode (no REDIS_URL).

Every gateway worker process shares the database, so caps hold across processes as they do
with Redis. The functions are synchronous (ORM); the gate runs them in a worker thread.

Why a reservation cannot overshoot (the same guarantee as the Redis script):
- each counter is reserved with one conditional statement,
  `UPDATE counter SET reserved = reserved + :amount WHERE id = :id
   AND spent + reserved + :amount <= :limit`,
  which the database evaluates against the latest committed row while holding that row's write
  lock: on PostgreSQL a concurrent UPDATE of the same row waits for the first to commit and then
  re-checks the WHERE against the new row (READ COMMITTED); SQLite runs one writer at a time;
- all of a call's counters are updated in ONE transaction, and if any UPDATE matched no row
  (no room) the transaction is rolled back, so a call reserves on every counter or on none;
- rows are locked in one global order (expired reservations, then counters sorted by primary
  key; settlement the same), so two calls sharing counters cannot deadlock; on SQLite the
  transaction's first statement is a write, so it takes the write lock at once instead of
  failing to upgrade a read snapshot;
- expired reservations (dead processes) are released even when the call is then blocked: a
  blocked call takes back only its own amounts, so a counter full of dead reservations frees up;
- a live process pushes its open reservations' expiry forward (`extend`, the gate's heartbeat):
  it locks those reservation rows in primary-key order, as a reservation releasing expired ones
  does, and touches no counter, so it cannot deadlock with either.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable

from django.db import transaction
from django.db.models import F
from django.db.models.lookups import LessThanOrEqual

from policies.counters import serialised as _serialised
from policies.spend.models import SpendCounter, SpendReservation
from policies.spend.store_redis import Counter, ReserveResult

UTC = dt.UTC


def _ident(c: Counter) -> tuple[int, str, str, dt.datetime]:
    return (c.policy_id, c.member, c.window, c.window_start)


def missing_counters(counters: list[Counter]) -> list[int]:
    """Indexes of counters that have no row yet (read outside any transaction)."""
    existing = set(
        SpendCounter.objects.filter(
            policy_id__in={c.policy_id for c in counters},
            window_start__in={c.window_start for c in counters},
        ).values_list("policy_id", "member", "window", "window_start")
    )
    return [i for i, c in enumerate(counters) if _ident(c) not in existing]


def _counter_ids(counters: list[Counter]) -> dict[tuple[int, str, str, dt.datetime], int]:
    rows = SpendCounter.objects.filter(
        policy_id__in={c.policy_id for c in counters},
        window_start__in={c.window_start for c in counters},
    ).values_list("pk", "policy_id", "member", "window", "window_start")
    return {(p, m, w, s): pk for pk, p, m, w, s in rows}


def _expired(counter_ids: list[int], now: dt.datetime) -> dict[int, int]:
    """Delete the expired reservations of these counters (processes that died); return the
    micro-dollars to release per counter. The rows are locked first (SELECT … FOR UPDATE, in
    key order), so a concurrent transaction releasing the same rows waits, then no longer sees
    them: nothing is released twice."""
    rows = list(
        SpendReservation.objects.select_for_update()
        .filter(counter_id__in=counter_ids, expires_at__lte=now)
        .order_by("pk")
        .values_list("pk", "counter_id", "amount_micros")
    )
    freed: dict[int, int] = defaultdict(int)
    for _, cid, amount in rows:
        freed[cid] += amount
    if rows:
        SpendReservation.objects.filter(pk__in=[pk for pk, _, _ in rows]).delete()
    return freed


def reserve(
    counters: list[Counter],
    *,
    reservation_id: str,
    now: float,
    ttl_seconds: float,
    baseline: Callable[[list[Counter]], list[int]] | None = None,
) -> ReserveResult:
    """Reserve each counter's amount on all of them, or on none (see the module docstring).
    A counter with no row yet starts from `baseline(those counters)` (the truth), else 0."""

    def attempt() -> ReserveResult:
        missing = missing_counters(counters) if baseline is not None else []
        values = baseline([counters[i] for i in missing]) if missing else []
        start = dict(zip(missing, values, strict=True))
        return _reserve(counters, reservation_id, now, ttl_seconds, start)

    return _serialised(attempt)


def _reserve(
    counters: list[Counter],
    reservation_id: str,
    now: float,
    ttl_seconds: float,
    baselines: dict[int, int],
) -> ReserveResult:
    """Lock order, the same in _settle: reservation rows, then counters by primary key."""
    now_dt = dt.datetime.fromtimestamp(now, UTC)
    expires = dt.datetime.fromtimestamp(now + ttl_seconds, UTC)
    with transaction.atomic():
        SpendCounter.objects.bulk_create(  # a write first (see the module docstring)
            [
                SpendCounter(
                    policy_id=c.policy_id,
                    member=c.member,
                    window=c.window,
                    window_start=c.window_start,
                    spent_micros=baselines.get(i, 0),
                )
                for i, c in sorted(enumerate(counters), key=lambda ic: _ident(ic[1]))
            ],
            ignore_conflicts=True,
        )
        ids = _counter_ids(counters)
        order = sorted(range(len(counters)), key=lambda i: ids[_ident(counters[i])])
        freed = _expired(sorted(set(ids.values())), now_dt)
        over: list[int] = []
        for i in order:
            c, cid = counters[i], ids[_ident(counters[i])]
            gone = freed.pop(cid, 0)  # released here, whatever the outcome below
            delta = c.amount_micros - gone
            updated = SpendCounter.objects.filter(
                LessThanOrEqual(F("spent_micros") + F("reserved_micros") + delta, c.limit_micros),
                pk=cid,
            ).update(reserved_micros=F("reserved_micros") + delta)
            if not updated:
                over.append(i)
                if gone:
                    SpendCounter.objects.filter(pk=cid).update(
                        reserved_micros=F("reserved_micros") - gone
                    )
        if over:
            return _undo(counters, ids, order, over)
        SpendReservation.objects.bulk_create(
            SpendReservation(
                reservation_id=reservation_id,
                counter_id=ids[_ident(c)],
                amount_micros=c.amount_micros,
                expires_at=expires,
            )
            for c in counters
        )
    return ReserveResult(ok=True)


def _undo(
    counters: list[Counter],
    ids: dict[tuple[int, str, str, dt.datetime], int],
    order: list[int],
    over: list[int],
) -> ReserveResult:
    """Blocked: take back the amounts reserved on the counters that had room (rows this
    transaction already holds, so no new lock is taken) and keep the released expiries."""
    for i in order:
        if i not in over:
            SpendCounter.objects.filter(pk=ids[_ident(counters[i])]).update(
                reserved_micros=F("reserved_micros") - counters[i].amount_micros
            )
    levels = dict(
        SpendCounter.objects.filter(pk__in=ids.values()).values_list(
            "pk", F("spent_micros") + F("reserved_micros")
        )
    )
    return ReserveResult(
        ok=False, over=tuple(sorted(over)), levels=tuple(levels[ids[_ident(c)]] for c in counters)
    )


def settle(counters: list[Counter], *, reservation_id: str, actual: list[int]) -> list[int | None]:
    """Release the reservation and add the actual cost (micros per counter), in one
    transaction. A reservation already released by expiry is simply not subtracted. Returns
    each counter's settled spend after it (None for a counter without a row)."""
    return _serialised(lambda: _settle(counters, reservation_id, actual))


def _settle(counters: list[Counter], reservation_id: str, actual: list[int]) -> list[int | None]:
    ids = _counter_ids(counters)  # rows are never deleted while their window lasts
    order = sorted((ids[_ident(c)], i) for i, c in enumerate(counters) if _ident(c) in ids)
    with transaction.atomic():
        # A write first (SQLite) that also locks this reservation's rows (PostgreSQL): the lock
        # order is the one of _reserve, reservations then counters.
        SpendReservation.objects.filter(reservation_id=reservation_id).update(
            expires_at=F("expires_at")
        )
        held: dict[int, int] = defaultdict(int)
        for cid, amount in SpendReservation.objects.filter(
            reservation_id=reservation_id
        ).values_list("counter_id", "amount_micros"):
            held[cid] += amount
        for cid, i in order:
            SpendCounter.objects.filter(pk=cid).update(
                spent_micros=F("spent_micros") + actual[i],
                reserved_micros=F("reserved_micros") - held.get(cid, 0),
            )
        SpendReservation.objects.filter(reservation_id=reservation_id).delete()
        spent = dict(
            SpendCounter.objects.filter(pk__in=[cid for cid, _ in order]).values_list(
                "pk", "spent_micros"
            )
        )
    by_index = {i: spent.get(cid) for cid, i in order}
    return [by_index.get(i) for i in range(len(counters))]


EXTEND_BATCH = 500  # reservation ids per statement (SQLite bounds a statement's parameters)


def extend(reservation_ids: list[str], *, expires_at: dt.datetime) -> int:
    """Push the expiry of these open reservations to `expires_at`, in one transaction; returns
    the rows updated. A reservation already settled, or released as expired, has no row left
    and is not brought back."""

    def run() -> int:
        updated = 0
        with transaction.atomic():
            for i in range(0, len(reservation_ids), EXTEND_BATCH):
                batch = reservation_ids[i : i + EXTEND_BATCH]
                pks = list(
                    SpendReservation.objects.select_for_update()
                    .filter(reservation_id__in=batch)
                    .order_by("pk")
                    .values_list("pk", flat=True)
                )
                updated += SpendReservation.objects.filter(pk__in=pks).update(expires_at=expires_at)
        return updated

    return _serialised(run)


def levels(counters: list[Counter]) -> list[tuple[int, int] | None]:
    """(spent, reserved) per counter, None when the counter has no row."""
    rows = {
        (p, m, w, s): (spent, reserved)
        for p, m, w, s, spent, reserved in SpendCounter.objects.filter(
            policy_id__in={c.policy_id for c in counters}
        ).values_list(
            "policy_id", "member", "window", "window_start", "spent_micros", "reserved_micros"
        )
    }
    return [rows.get(_ident(c)) for c in counters]
