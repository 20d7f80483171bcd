"""Live spend counters in the database, for the embedded mode (no REDIS_URL).

Every gateway worker process shares the database, so caps hold across processes as they do
with Redis. The functions are synchronous (plain SQL on Django's connection for a call's
statements, which the ORM's compiling would cost more CPU than); the gate runs them in a worker
thread. A call costs a few statements whatever its number of counters (counter ids are looked
up once per process: a row lives as long as its policy, and one found gone is looked up again).

Why a reservation cannot overshoot (the same guarantee as the Redis script):
- a call's counter rows are locked in one transaction, in primary-key order (SELECT … FOR
  UPDATE on PostgreSQL, which reads the latest committed row once it holds the lock; on
  SQLite every transaction begins IMMEDIATE, holding the write lock from the start), and
  `spent + reserved + amount <= limit` is checked on what the lock returned;
- the call reserves on every counter or, when one has no room, on none, written back in one
  UPDATE in that transaction; every other change of a counter (settling) also happens under
  its row lock, so nothing changes a row between the check and the write;
- rows are locked in one global order (expired reservations, then counters sorted by primary
  key; settlement the same: the call's reservations, then its counters), so two calls sharing
  counters cannot deadlock;
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
from typing import Any

from django.db import connection, transaction

from policies.counters import serialised as _serialised
from policies.spend.models import SpendCounter, SpendReservation
from policies.spend.store_redis import Counter, ReserveResult

UTC = dt.UTC

COUNTERS = SpendCounter._meta.db_table
RESERVATIONS = SpendReservation._meta.db_table

Ident = tuple[int, str, str, dt.datetime]

_ids: dict[Ident, int] = {}  # (policy, member, window, window start) -> row id, this process


class _CounterGone(Exception):
    """A cached counter row no longer exists (its policy was deleted, maybe re-created)."""


def _ident(c: Counter) -> Ident:
    return (c.policy_id, c.member, c.window, c.window_start)


def missing_counters(counters: list[Counter]) -> list[int]:
    """Indexes of counters that have no row yet (read outside any transaction; counters this
    process already knows a row of are not looked up)."""
    unknown = [(i, c) for i, c in enumerate(counters) if _ident(c) not in _ids]
    if not unknown:
        return []
    existing = _counter_ids([c for _, c in unknown])
    _ids.update(existing)
    return [i for i, c in unknown if _ident(c) not in existing]


def _counter_ids(counters: list[Counter]) -> dict[Ident, int]:
    rows = SpendCounter.objects.filter(
        policy_id__in={c.policy_id for c in counters},
        window_start__in={c.window_start for c in counters},
    ).values_list("pk", "policy_id", "member", "window", "window_start")
    return {(p, m, w, s): pk for pk, p, m, w, s in rows}


def _ensure_ids(counters: list[Counter], baselines: dict[int, int]) -> list[int]:
    """Each counter's row id, creating the missing rows (in this transaction) at their
    baseline."""
    known = [_ids.get(_ident(c)) for c in counters]
    if None not in known:
        return known  # type: ignore[return-value]
    SpendCounter.objects.bulk_create(
        [
            SpendCounter(
                policy_id=c.policy_id,
                member=c.member,
                window=c.window,
                window_start=c.window_start,
                spent_micros=baselines.get(i, 0),
            )
            for i, c in sorted(enumerate(counters), key=lambda ic: _ident(ic[1]))
            if known[i] is None
        ],
        ignore_conflicts=True,
    )
    _ids.update(_counter_ids(counters))
    return [_ids[_ident(c)] for c in counters]


def _marks(n: int) -> str:
    return ", ".join(["%s"] * n)


def _for_update() -> str:
    return " FOR UPDATE" if connection.features.has_select_for_update else ""


def _db_time(value: dt.datetime) -> Any:
    """`value` as the database stores it (what a raw statement compares and returns)."""
    return connection.ops.adapt_datetimefield_value(value)


def _stored_time(value: dt.datetime | str) -> dt.datetime:
    """A datetime column as a raw statement returned it (SQLite: naive UTC, or its text)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _lock(cursor: Any, ids: dict[int, Ident]) -> dict[int, list[int]]:
    """Lock these counter rows in key order; {id: [spent, reserved]}. Raises _CounterGone (and
    forgets the ids) when one no longer exists or is no longer that counter (a row created by
    a transaction that rolled back: SQLite may hand its id out again)."""
    wanted = sorted(ids)
    cursor.execute(
        f'SELECT id, policy_id, member, "window", window_start, spent_micros, reserved_micros'
        f" FROM {COUNTERS} WHERE id IN ({_marks(len(wanted))}) ORDER BY id{_for_update()}",
        wanted,
    )
    rows = {}
    for pk, p, m, w, start, spent, reserved in cursor.fetchall():
        p0, m0, w0, start0 = ids[pk]
        if (p, m, w, _stored_time(start)) == (p0, m0, w0, start0):
            rows[pk] = [spent, reserved]
    if len(rows) < len(wanted):
        for pk in wanted:
            if pk not in rows:
                _ids.pop(ids[pk], None)
        raise _CounterGone
    return rows


def _write(cursor: Any, rows: dict[int, list[int]], changed: set[int]) -> None:
    """Store spent and reserved of the `changed` counters (locked by this transaction), in one
    statement."""
    if not changed:
        return
    order = sorted(changed)
    case = " ".join(["WHEN %s THEN CAST(%s AS BIGINT)"] * len(order))
    params: list[Any] = [v for pk in order for v in (pk, rows[pk][0])]
    params += [v for pk in order for v in (pk, rows[pk][1])]
    cursor.execute(
        f"UPDATE {COUNTERS} SET spent_micros = CASE id {case} END,"
        f" reserved_micros = CASE id {case} END WHERE id IN ({_marks(len(order))})",
        params + order,
    )


def _expired(cursor: Any, counter_ids: list[int], now: dt.datetime) -> dict[int, int]:
    """Delete the expired reservations of these counters (processes that died); return the
    micro-dollars to release per counter. The rows are locked first (SELECT … FOR UPDATE, in
    key order), so a concurrent transaction releasing the same rows waits, then no longer sees
    them: nothing is released twice."""
    cursor.execute(
        f"SELECT id, counter_id, amount_micros FROM {RESERVATIONS}"
        f" WHERE counter_id IN ({_marks(len(counter_ids))}) AND expires_at <= %s"
        f" ORDER BY id{_for_update()}",
        [*counter_ids, _db_time(now)],
    )
    rows = cursor.fetchall()
    freed: dict[int, int] = defaultdict(int)
    for _, cid, amount in rows:
        freed[cid] += amount
    if rows:
        cursor.execute(
            f"DELETE FROM {RESERVATIONS} WHERE id IN ({_marks(len(rows))})",
            [pk for pk, _, _ in rows],
        )
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

    def run() -> ReserveResult:
        try:
            return attempt()
        except _CounterGone:  # looked up again (and created if its policy still exists)
            return attempt()

    return _serialised(run)


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
    with transaction.atomic(), connection.cursor() as cursor:
        ids = _ensure_ids(counters, baselines)
        freed = _expired(cursor, sorted(set(ids)), now_dt)
        rows = _lock(cursor, {cid: _ident(c) for c, cid in zip(counters, ids, strict=True)})
        for cid, gone in freed.items():  # released whatever the outcome below
            rows[cid][1] -= gone
        changed = set(freed)
        over = []
        taken: dict[int, int] = defaultdict(int)
        for i, (c, cid) in enumerate(zip(counters, ids, strict=True)):
            spent, reserved = rows[cid]
            if spent + reserved + taken[cid] + c.amount_micros > c.limit_micros:
                over.append(i)
            else:
                taken[cid] += c.amount_micros
        if over:
            _write(cursor, rows, changed)
            return ReserveResult(
                ok=False, over=tuple(over), levels=tuple(sum(rows[cid]) for cid in ids)
            )
        for cid, amount in taken.items():
            rows[cid][1] += amount
        _write(cursor, rows, changed | set(taken))
        until = _db_time(expires)
        cursor.execute(
            f"INSERT INTO {RESERVATIONS} (reservation_id, counter_id, amount_micros, expires_at)"
            f" VALUES {', '.join(['(%s, %s, %s, %s)'] * len(counters))}",
            [
                v
                for c, cid in zip(counters, ids, strict=True)
                for v in (reservation_id, cid, c.amount_micros, until)
            ],
        )
    return ReserveResult(ok=True)


def settle(counters: list[Counter], *, reservation_id: str, actual: list[int]) -> list[int | None]:
    """Release the reservation and add the actual cost (micros per counter), in one
    transaction. A reservation already released by expiry is simply not subtracted. Returns
    each counter's settled spend after it (None for a counter without a row)."""

    def run() -> list[int | None]:
        try:
            return _settle(counters, reservation_id, actual)
        except _CounterGone:  # a policy was deleted (its rows with it): settle the others
            return _settle(counters, reservation_id, actual)

    return _serialised(run)


def _settle(counters: list[Counter], reservation_id: str, actual: list[int]) -> list[int | None]:
    ids = [_ids.get(_ident(c)) for c in counters]
    if None in ids:  # rows are never deleted while their window lasts: look the others up
        found = _counter_ids(counters)
        _ids.update(found)
        ids = [found.get(_ident(c)) for c in counters]
    mine = {cid: _ident(c) for c, cid in zip(counters, ids, strict=True) if cid is not None}
    with transaction.atomic(), connection.cursor() as cursor:
        # This reservation's rows, then the counters: the lock order of _reserve.
        cursor.execute(
            f"SELECT id, counter_id, amount_micros FROM {RESERVATIONS}"
            f" WHERE reservation_id = %s ORDER BY id{_for_update()}",
            [reservation_id],
        )
        held: dict[int, int] = defaultdict(int)
        pks = []
        for pk, cid, amount in cursor.fetchall():
            held[cid] += amount
            pks.append(pk)
        rows = _lock(cursor, mine) if mine else {}
        for i, cid in enumerate(ids):
            if cid is not None:
                rows[cid][0] += actual[i]
        for cid in rows:
            rows[cid][1] -= held.get(cid, 0)
        _write(cursor, rows, set(rows))
        if pks:
            cursor.execute(f"DELETE FROM {RESERVATIONS} WHERE id IN ({_marks(len(pks))})", pks)
    return [None if cid is None else rows[cid][0] for cid in ids]


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
