"""Live rate-limit counters in Redis: one Lua script admits a call on every matching
(policy, member, window, metric) counter at once, another settles its token count.

Layout, per counter: a sliding log of the calls in the window.
- `gw:rl:{o<org>}:<policy>:<member>:<window>:<metric>` — a hash: `t` (the sum of the amounts
  in the log) and one field per call, `<reservation id>` → its amount (1 request, or tokens);
- the same key + `:z` — a sorted set of the calls' reservation ids scored by when they were
  admitted (epoch ms).
The `{o<org>}` hash tag keeps every key of one call in one Redis Cluster slot.

Why it is exact: a script runs atomically, so "drop what left the window → every counter has
room → log the call on every counter" happens with no other call in between; a call refused on
one counter is logged nowhere. A limit of N per window therefore admits at most N in any
window-long stretch of time, whatever the concurrency.

When a counter has no room the script also answers how long until it will: the oldest calls
leave the log first, so it walks them in order until enough has left (only for the counters
that are full, so the common path stays a few hash operations per counter).

A call whose process died keeps its entry (the token estimate) until it slides out of the
window: at most one window of over-counting, never of under-counting.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from policies.counters import ScriptStore, pack_bulk, pack_evalsha_head, store_on_loop_client

if TYPE_CHECKING:
    import redis.asyncio as aioredis

KEEP_MS = 60_000  # keys outlive their window by this much, then Redis drops them

# ARGV: keep (ms), per counter its window (ms) and limit, then the clock (ms), the reservation
# id and per counter this call's amount: everything up to the statics is the same for every
# call on the same counters and packed once (RateCounters), a call adds the rest.
RESERVE_LUA = """
local n = #KEYS / 2
local keep = tonumber(ARGV[1])
local now = tonumber(ARGV[2 * n + 2])
local rid = ARGV[2 * n + 3]
-- Run again with the same id (a cluster client resends a command whose reply it lost): the
-- call is logged already, on every counter or on none.
if n > 0 and redis.call('HEXISTS', KEYS[1], rid) == 1 then return {1} end
local over, levels, waits = {}, {}, {}
for i = 1, n do
  local h = KEYS[2 * i - 1]
  local z = KEYS[2 * i]
  local win = tonumber(ARGV[2 * i])
  local limit = tonumber(ARGV[2 * i + 1])
  local amount = tonumber(ARGV[2 * n + 3 + i])
  local cutoff = now - win
  local old = redis.call('ZRANGEBYSCORE', z, '-inf', cutoff)
  if #old > 0 then
    local freed = 0
    for _, r in ipairs(old) do
      local amt = redis.call('HGET', h, r)
      if amt then
        freed = freed + tonumber(amt)
        redis.call('HDEL', h, r)
      end
    end
    redis.call('ZREMRANGEBYSCORE', z, '-inf', cutoff)
    if freed ~= 0 then redis.call('HINCRBY', h, 't', -freed) end
  end
  local level = tonumber(redis.call('HGET', h, 't') or '0')
  levels[i] = level
  if level + amount > limit then
    over[#over + 1] = i
    local wait = -1
    if amount <= limit then
      local need = level + amount - limit
      local entries = redis.call('ZRANGE', z, 0, -1, 'WITHSCORES')
      local freed = 0
      for j = 1, #entries, 2 do
        freed = freed + tonumber(redis.call('HGET', h, entries[j]) or '0')
        if freed >= need then
          wait = tonumber(entries[j + 1]) + win - now
          break
        end
      end
    end
    waits[#waits + 1] = wait
  end
end
if #over > 0 then return {0, over, levels, waits} end
for i = 1, n do
  local h = KEYS[2 * i - 1]
  local z = KEYS[2 * i]
  local amount = tonumber(ARGV[2 * n + 3 + i])
  local ttl = tonumber(ARGV[2 * i]) + keep
  redis.call('HINCRBY', h, 't', amount)
  redis.call('HSET', h, rid, amount)
  redis.call('ZADD', z, now, rid)
  redis.call('PEXPIRE', h, ttl)
  redis.call('PEXPIRE', z, ttl)
end
return {1}
"""

SETTLE_LUA = """
local rid = ARGV[1]
local n = #KEYS / 2
for i = 1, n do
  local h = KEYS[2 * i - 1]
  local z = KEYS[2 * i]
  local actual = tonumber(ARGV[1 + i])
  local amt = redis.call('HGET', h, rid)
  if amt then
    if actual == 0 then
      redis.call('HDEL', h, rid)
      redis.call('ZREM', z, rid)
    else
      redis.call('HSET', h, rid, actual)
    end
    redis.call('HINCRBY', h, 't', actual - tonumber(amt))
  end
end
return 1
"""

LEVELS_LUA = """
local now = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS / 2 do
  local h = KEYS[2 * i - 1]
  local z = KEYS[2 * i]
  local ids = redis.call('ZRANGEBYSCORE', z, '(' .. (now - tonumber(ARGV[1 + i])), '+inf')
  local sum = 0
  for _, r in ipairs(ids) do sum = sum + tonumber(redis.call('HGET', h, r) or '0') end
  out[i] = sum
end
return out
"""


RESERVE_SHA = hashlib.sha1(RESERVE_LUA.encode()).hexdigest()
SETTLE_SHA = hashlib.sha1(SETTLE_LUA.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class RateCounter:
    """One (policy, member, window, metric) log with its limit and this call's amount."""

    organization_id: int
    policy_id: int
    member: str
    window: str
    metric: str  # requests | tokens
    seconds: int
    limit: int
    amount: int

    @property
    def key(self) -> str:
        return (
            f"gw:rl:{{o{self.organization_id}}}:{self.policy_id}:{self.member}:"
            f"{self.window}:{self.metric}"
        )

    @property
    def window_ms(self) -> int:
        return self.seconds * 1000


@dataclass(frozen=True, slots=True, eq=False)
class RateCounters:
    """A set of counters a call is admitted on, with the start of its two script commands
    packed once: keys, windows and limits (the gate keeps one per set of matching policies and
    members, so a call only packs its clock, its id and its amounts). The `counters`' own
    amounts are those of `amounts(tokens)` with tokens = 0."""

    counters: tuple[RateCounter, ...]
    keys: tuple[bytes, ...]
    statics: tuple[bytes, ...]  # keep, then each counter's window (ms) and limit
    token_indexes: tuple[int, ...]
    reserve_head: bytes
    settle_head: bytes

    @classmethod
    def prepare(cls, counters: list[RateCounter] | tuple[RateCounter, ...]) -> RateCounters:
        keys: list[bytes] = []
        statics: list[bytes] = [str(KEEP_MS).encode()]
        for c in counters:
            key = c.key.encode()
            keys += [key, key + b":z"]
            statics += [str(c.window_ms).encode(), str(c.limit).encode()]
        n = len(counters)
        return cls(
            tuple(counters),
            tuple(keys),
            tuple(statics),
            tuple(i for i, c in enumerate(counters) if c.metric == "tokens"),
            reserve_head=pack_evalsha_head(RESERVE_SHA, keys, statics, 2 + n),
            settle_head=pack_evalsha_head(SETTLE_SHA, keys, (), 1 + n),
        )

    def amounts(self, tokens: int) -> list[int]:
        """Each counter's amount for a call that may use `tokens`: 1 per request."""
        out = [c.amount for c in self.counters]
        for i in self.token_indexes:
            out[i] = tokens
        return out


@dataclass(frozen=True, slots=True)
class AdmitResult:
    """ok; or the indexes of the full counters, every counter's level, and per full counter
    the milliseconds until it has room (-1: never, the call alone exceeds the limit)."""

    ok: bool
    over: tuple[int, ...] = ()
    levels: tuple[int, ...] = ()
    waits_ms: tuple[int, ...] = ()


class RedisRateStore(ScriptStore):
    def __init__(self, client: aioredis.Redis, *, max_in_flight: int = 32) -> None:
        super().__init__(client, max_in_flight=max_in_flight)
        self._reserve = client.register_script(RESERVE_LUA)
        self._settle = client.register_script(SETTLE_LUA)
        self._levels = client.register_script(LEVELS_LUA)

    async def reserve(
        self,
        counters: list[RateCounter] | RateCounters,
        *,
        reservation_id: str,
        now_ms: int,
        amounts: list[int] | None = None,
    ) -> AdmitResult:
        """Log the call on every counter, or on none when one has no room. `amounts` (one
        per counter) default to the counters' own."""
        prepared = (
            counters if isinstance(counters, RateCounters) else RateCounters.prepare(counters)
        )
        if amounts is None:
            amounts = [c.amount for c in prepared.counters]
        tail = (now_ms, reservation_id, *amounts)
        raw = await self._run_packed(
            self._reserve,
            [prepared.reserve_head, pack_bulk(tail)],
            prepared.keys,
            (*prepared.statics, *tail),
        )
        if raw[0] == 1:
            return AdmitResult(ok=True)
        return AdmitResult(
            ok=False,
            over=tuple(int(i) - 1 for i in raw[1]),
            levels=tuple(int(v) for v in raw[2]),
            waits_ms=tuple(int(v) for v in raw[3]),
        )

    async def settle(
        self,
        counters: list[RateCounter] | RateCounters,
        *,
        reservation_id: str,
        actual: list[int],
    ) -> None:
        """Replace the call's amount on each counter by `actual` (0 removes the call)."""
        prepared = (
            counters if isinstance(counters, RateCounters) else RateCounters.prepare(counters)
        )
        tail = (reservation_id, *actual)
        await self._run_packed(
            self._settle, [prepared.settle_head, pack_bulk(tail)], prepared.keys, tail
        )

    async def levels(self, counters: list[RateCounter], *, now_ms: int) -> list[int]:
        """What each counter holds in the window ending now (read only)."""
        prepared = RateCounters.prepare(counters)
        raw = await self._run(
            self._levels, prepared.keys, (now_ms, *(c.window_ms for c in counters))
        )
        return [int(v) for v in raw]


def store_for_loop(url: str) -> RedisRateStore:
    """The store on this process's client for the running event loop (policies.counters)."""
    return store_on_loop_client(url, RedisRateStore)
