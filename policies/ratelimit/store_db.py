"""Live rate-limit counters in the database, for the embedded mode (no REDIS_URL): the same
sliding logs as the Redis script (policies/ratelimit/store_redis.py), as rows every gateway
process shares. Synchronous (plain SQL on Django's connection, a few statements per call: a
rate-limit check sits on every call's path); the gate runs these in a worker thread.

A counter row keeps its log's running `level` (the sum of its entries) and `oldest_ms` (no entry
is older; None when it has none), so a reservation reads one row per counter instead of summing
the log, and deletes expired entries only when a counter's oldest one has left the window (one
DELETE for all such counters of the call).

Why it is exact (the guarantee of the Redis script):
- a call's counters are rows locked in one transaction, in primary-key order (SELECT … FOR
  UPDATE on PostgreSQL; on SQLite every transaction begins IMMEDIATE, holding the write lock
  from the start). While a call holds a counter's row no other call can admit itself on that
  counter, and once it commits the next one reads the row (and the log) with its entry in it
  (READ COMMITTED reads what committed before each statement, and a row locked after a wait
  is read again);
- every change to a counter's entries (a reservation logging or expiring them, a settlement
  changing or removing its own) happens under that counter's row lock and updates `level` and
  `oldest_ms` in the same transaction, so the row always tells the log's sum, and whether an
  entry may have left the window;
- under the lock, when the oldest entry may have left the window, the expired entries are
  deleted and their amounts taken off the level; then the level is exactly what the window
  holds, and the call is logged on every counter or, when one has no room, on none;
- one global lock order (counters by primary key, reservations and settlements alike) means
  two calls sharing counters cannot deadlock.

Counter ids are looked up once per process: a counter row lives as long as its policy (deleted
only with it, by cascade), and a row found gone is looked up again.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db import connection, transaction

from policies.counters import serialised
from policies.ratelimit.models import RateLimitCounter, RateLimitEntry
from policies.ratelimit.store_redis import AdmitResult, RateCounter

Ident = tuple[int, str, str, str]

COUNTERS = RateLimitCounter._meta.db_table
ENTRIES = RateLimitEntry._meta.db_table

_ids: dict[Ident, int] = {}  # (policy, member, window, metric) -> counter row id, this process


class _CounterGone(Exception):
    """A cached counter row no longer exists (its policy was deleted, maybe re-created)."""


def _ident(c: RateCounter) -> Ident:
    return (c.policy_id, c.member, c.window, c.metric)


def _marks(n: int) -> str:
    return ", ".join(["%s"] * n)


def _counter_ids(counters: list[RateCounter]) -> dict[Ident, int]:
    rows = RateLimitCounter.objects.filter(
        policy_id__in={c.policy_id for c in counters}, member__in={c.member for c in counters}
    ).values_list("pk", "policy_id", "member", "window", "metric")
    return {(p, m, w, k): pk for pk, p, m, w, k in rows}


def _ensure_ids(counters: list[RateCounter]) -> list[int]:
    """Each counter's row id, creating the missing rows (in this transaction)."""
    known = [_ids.get(_ident(c)) for c in counters]
    if None not in known:
        return known  # type: ignore[return-value]
    RateLimitCounter.objects.bulk_create(
        [
            RateLimitCounter(
                policy_id=c.policy_id, member=c.member, window=c.window, metric=c.metric
            )
            for c in sorted(counters, key=_ident)
        ],
        ignore_conflicts=True,
    )
    _ids.update(_counter_ids(counters))
    return [_ids[_ident(c)] for c in counters]


def _lock(cursor: Any, ids: dict[int, Ident]) -> dict[int, list[Any]]:
    """Lock these counter rows in key order; {id: [level, oldest_ms]}. Raises _CounterGone
    (and forgets the ids) when one no longer exists or is no longer that counter (a row created
    by a transaction that rolled back: SQLite may hand its id out again)."""
    wanted = sorted(ids)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    cursor.execute(
        f'SELECT id, policy_id, member, "window", metric, level, oldest_ms FROM {COUNTERS}'
        f" WHERE id IN ({_marks(len(wanted))}) ORDER BY id{lock}",
        wanted,
    )
    rows = {}
    for cid, policy_id, member, window, metric, level, oldest in cursor.fetchall():
        if ids[cid] == (policy_id, member, window, metric):
            rows[cid] = [level, oldest]
    if len(rows) < len(wanted):
        for cid in wanted:
            if cid not in rows:
                _ids.pop(ids[cid], None)
        raise _CounterGone
    return rows


def _expire(cursor: Any, rows: dict[int, list[Any]], cutoffs: dict[int, int]) -> set[int]:
    """Delete the entries at or before each counter's cutoff (counters whose oldest entry is
    that old), take them off `rows`' levels and find the new oldest; returns the counters
    changed. One DELETE and one SELECT for all of them."""
    due = {
        cid: cut for cid, cut in cutoffs.items() if rows[cid][1] is not None and rows[cid][1] <= cut
    }
    if not due:
        return set()
    where = " OR ".join(["(counter_id = %s AND at_ms <= %s)"] * len(due))
    params = [v for cid, cut in sorted(due.items()) for v in (cid, cut)]
    cursor.execute(f"DELETE FROM {ENTRIES} WHERE {where} RETURNING counter_id, amount", params)
    for cid, amount in cursor.fetchall():
        rows[cid][0] -= amount
    cursor.execute(
        f"SELECT counter_id, MIN(at_ms) FROM {ENTRIES} WHERE counter_id IN ({_marks(len(due))})"
        " GROUP BY counter_id",
        sorted(due),
    )
    oldest = dict(cursor.fetchall())
    for cid in due:
        rows[cid][1] = oldest.get(cid)
    return set(due)


def _write_rows(cursor: Any, rows: dict[int, list[Any]], changed: set[int]) -> None:
    """Store the level and oldest time of the `changed` counters (locked by this transaction)."""
    if not changed:
        return
    order = sorted(changed)
    level_case = " ".join(["WHEN %s THEN %s"] * len(order))
    oldest_case = " ".join(["WHEN %s THEN CAST(%s AS BIGINT)"] * len(order))
    params: list[Any] = [v for cid in order for v in (cid, rows[cid][0])]
    params += [v for cid in order for v in (cid, rows[cid][1])]
    params += order
    cursor.execute(
        f"UPDATE {COUNTERS} SET level = CASE id {level_case} END,"
        f" oldest_ms = CASE id {oldest_case} END WHERE id IN ({_marks(len(order))})",
        params,
    )


def reserve(counters: list[RateCounter], *, reservation_id: str, now_ms: int) -> AdmitResult:
    """Log the call on every counter, or on none when one has no room."""

    def attempt() -> AdmitResult:
        try:
            return _reserve(counters, reservation_id, now_ms)
        except _CounterGone:  # looked up again (and created if its policy still exists)
            return _reserve(counters, reservation_id, now_ms)

    return serialised(attempt)


def _reserve(counters: list[RateCounter], reservation_id: str, now_ms: int) -> AdmitResult:
    with transaction.atomic(), connection.cursor() as cursor:
        ids = _ensure_ids(counters)
        rows = _lock(cursor, {cid: _ident(c) for c, cid in zip(counters, ids, strict=True)})
        cutoffs: dict[int, int] = {}
        for c, cid in zip(counters, ids, strict=True):
            cutoffs[cid] = max(cutoffs.get(cid, now_ms - c.window_ms), now_ms - c.window_ms)
        changed = _expire(cursor, rows, cutoffs)
        levels = [rows[cid][0] for cid in ids]
        over = [i for i, c in enumerate(counters) if levels[i] + c.amount > c.limit]
        if over:
            _write_rows(cursor, rows, changed)
            waits = [_wait_ms(cursor, ids[i], counters[i], levels[i], now_ms) for i in over]
            return AdmitResult(
                ok=False, over=tuple(over), levels=tuple(levels), waits_ms=tuple(waits)
            )
        for c, cid in zip(counters, ids, strict=True):
            rows[cid][0] += c.amount
            if rows[cid][1] is None or rows[cid][1] > now_ms:
                rows[cid][1] = now_ms
        _write_rows(cursor, rows, set(ids))
        values = ", ".join(["(%s, %s, %s, %s)"] * len(counters))
        params = [
            v
            for c, cid in zip(counters, ids, strict=True)
            for v in (cid, reservation_id, now_ms, c.amount)
        ]
        cursor.execute(
            f"INSERT INTO {ENTRIES} (counter_id, reservation_id, at_ms, amount) VALUES {values}",
            params,
        )
    return AdmitResult(ok=True)


def _wait_ms(cursor: Any, counter_id: int, c: RateCounter, level: int, now_ms: int) -> int:
    """Milliseconds until the oldest entries leaving the window make room (-1: never)."""
    if c.amount > c.limit:
        return -1
    need = level + c.amount - c.limit
    freed = 0
    cursor.execute(
        f"SELECT at_ms, amount FROM {ENTRIES} WHERE counter_id = %s ORDER BY at_ms, id",
        [counter_id],
    )
    for at_ms, amount in cursor.fetchall():
        freed += amount
        if freed >= need:
            return int(at_ms + c.window_ms - now_ms)
    return -1  # pragma: no cover  (the entries sum to the level, which exceeds `need`)


def settle(counters: list[RateCounter], *, reservation_id: str, actual: list[int]) -> None:
    """Replace the call's amount on each counter by `actual` (0 removes the call)."""

    def attempt() -> None:
        try:
            _settle(counters, reservation_id, actual)
        except _CounterGone:  # a policy was deleted (its entries with it): settle the others
            _settle(counters, reservation_id, actual)

    serialised(attempt)


def _settle(counters: list[RateCounter], reservation_id: str, actual: list[int]) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        ids = [_ids.get(_ident(c)) for c in counters]
        if None in ids:  # another process created the rows: look them up
            found = _counter_ids(counters)
            _ids.update(found)
            ids = [found.get(_ident(c)) for c in counters]
        mine = {cid: i for i, cid in enumerate(ids) if cid is not None}
        if not mine:
            return
        rows = _lock(cursor, {cid: _ident(counters[i]) for cid, i in mine.items()})
        cursor.execute(
            f"SELECT id, counter_id, amount FROM {ENTRIES} WHERE reservation_id = %s"
            f" AND counter_id IN ({_marks(len(mine))})",
            [reservation_id, *sorted(mine)],
        )
        entries = cursor.fetchall()
        if not entries:  # expired (and deleted) already, or never logged
            return
        gone: list[int] = []
        amounts: dict[int, int] = defaultdict(int)
        for pk, cid, amount in entries:
            new = actual[mine[cid]]
            rows[cid][0] += new - amount
            if new == 0:
                gone.append(pk)
            elif new != amount:
                amounts[pk] = new
        if gone:
            cursor.execute(f"DELETE FROM {ENTRIES} WHERE id IN ({_marks(len(gone))})", gone)
        if amounts:
            case = " ".join(["WHEN %s THEN CAST(%s AS BIGINT)"] * len(amounts))
            params = [v for pk, new in amounts.items() for v in (pk, new)] + list(amounts)
            cursor.execute(
                f"UPDATE {ENTRIES} SET amount = CASE id {case} END"
                f" WHERE id IN ({_marks(len(amounts))})",
                params,
            )
        _write_rows(cursor, rows, {cid for _, cid, _ in entries})


def levels(counters: list[RateCounter], *, now_ms: int) -> list[int]:
    """What each counter holds in the window ending now (read only): the row's level, or the
    sum of the window's entries when older ones may still be logged."""
    rows = {
        (p, m, w, k): (pk, level, oldest)
        for pk, p, m, w, k, level, oldest in RateLimitCounter.objects.filter(
            policy_id__in={c.policy_id for c in counters}, member__in={c.member for c in counters}
        ).values_list("pk", "policy_id", "member", "window", "metric", "level", "oldest_ms")
    }
    out = []
    for c in counters:
        row = rows.get(_ident(c))
        if row is None:
            out.append(0)
            continue
        cid, level, oldest = row
        if oldest is None or oldest > now_ms - c.window_ms:
            out.append(level)
            continue
        total = RateLimitEntry.objects.filter(
            counter_id=cid, at_ms__gt=now_ms - c.window_ms
        ).values_list("amount", flat=True)
        out.append(sum(total))
    return out
