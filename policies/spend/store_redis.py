"""Live spend counters in Redis: one Lua script reserves a call's maximum cost against every
matching (policy, member, window) counter at once, another settles it to the actual cost.

Layout, per counter (window start in the key, so a new window starts from zero):
- `gw:spend:{o<org>}:<policy>:<member>:<window>:<start epoch>` — a hash: `spent` (settled
  micro-dollars), `reserved` (sum of open reservations), `r:<reservation id>` (each one's amount);
- the same key + `:r` — a sorted set of open reservation ids scored by their expiry (ms).
The `{o<org>}` hash tag puts every key of one call in one Redis Cluster slot (a call's policies
all belong to its organization), which a multi-key script needs.

Why it cannot overshoot: a script runs atomically, so "every counter has room → add the
reservation to every counter" happens with no other reservation in between; a call blocked on
one counter reserves nothing anywhere. A reservation of a process that died is released by the
next reservation on that counter once its expiry passes. While a call is in flight its process
pushes that expiry forward (`extend`, the gate's heartbeat), so a stream longer than the TTL
keeps its reservation and a dead process's reservations still expire one TTL after its last beat.

A counter missing from Redis (flush, failover, a new window) makes the script answer "rebuild"
without changing anything; the caller reads the baseline from PostgreSQL and runs the script
again in rebuild mode, which creates only the counters still missing (HSET only if absent), so
two processes rebuilding at once cannot overwrite each other's reservations.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from policies.counters import ScriptStore, store_on_loop_client
from policies.spend.windows import window_end

if TYPE_CHECKING:
    import redis.asyncio as aioredis

KEEP_AFTER_WINDOW = dt.timedelta(days=1)  # counters stay readable a day after their window ends

RESERVE_LUA = """
local now = tonumber(ARGV[1])
local rid = ARGV[2]
local res_exp = tonumber(ARGV[3])
local rebuild = ARGV[4] == '1'
local n = #KEYS / 2
-- Run again with the same id (a cluster client resends a command whose reply it lost): the
-- reservation is held already, on every counter or on none.
if n > 0 and redis.call('HEXISTS', KEYS[1], 'r:' .. rid) == 1 then return {1} end
local missing = {}
for i = 1, n do
  local h = KEYS[2 * i - 1]
  if redis.call('EXISTS', h) == 0 then
    if rebuild then
      local a = 4 + (i - 1) * 4
      redis.call('HSET', h, 'spent', ARGV[a + 4], 'reserved', 0)
      redis.call('EXPIRE', h, ARGV[a + 3])
    else
      missing[#missing + 1] = i
    end
  end
end
if #missing > 0 then return {2, missing} end
local over = {}
local levels = {}
for i = 1, n do
  local h = KEYS[2 * i - 1]
  local z = KEYS[2 * i]
  local a = 4 + (i - 1) * 4
  local expired = redis.call('ZRANGEBYSCORE', z, '-inf', now)
  for _, r in ipairs(expired) do
    local amt = redis.call('HGET', h, 'r:' .. r)
    if amt then
      redis.call('HINCRBY', h, 'reserved', -tonumber(amt))
      redis.call('HDEL', h, 'r:' .. r)
    end
  end
  if #expired > 0 then redis.call('ZREMRANGEBYSCORE', z, '-inf', now) end
  local v = redis.call('HMGET', h, 'spent', 'reserved')
  local level = tonumber(v[1] or '0') + tonumber(v[2] or '0')
  levels[i] = level
  if level + tonumber(ARGV[a + 2]) > tonumber(ARGV[a + 1]) then over[#over + 1] = i end
end
if #over > 0 then return {0, over, levels} end
for i = 1, n do
  local h = KEYS[2 * i - 1]
  local z = KEYS[2 * i]
  local a = 4 + (i - 1) * 4
  local amount = tonumber(ARGV[a + 2])
  redis.call('HINCRBY', h, 'reserved', amount)
  redis.call('HSET', h, 'r:' .. rid, amount)
  redis.call('ZADD', z, res_exp, rid)
  redis.call('EXPIRE', h, ARGV[a + 3])
  redis.call('EXPIRE', z, ARGV[a + 3])
end
return {1}
"""

SETTLE_LUA = """
local rid = ARGV[1]
local n = #KEYS / 2
local levels = {}
for i = 1, n do
  local h = KEYS[2 * i - 1]
  local z = KEYS[2 * i]
  local amt = redis.call('HGET', h, 'r:' .. rid)
  if amt then
    redis.call('HINCRBY', h, 'reserved', -tonumber(amt))
    redis.call('HDEL', h, 'r:' .. rid)
    redis.call('ZREM', z, rid)
  end
  if redis.call('EXISTS', h) == 1 then
    levels[i] = redis.call('HINCRBY', h, 'spent', tonumber(ARGV[1 + i]))
  else
    levels[i] = -1
  end
end
return levels
"""


@dataclass(frozen=True, slots=True)
class Counter:
    """One (policy, member, window, window start) with its limit and this call's amount."""

    organization_id: int
    policy_id: int
    member: str
    window: str
    window_start: dt.datetime
    limit_micros: int
    amount_micros: int

    @property
    def key(self) -> str:
        start = int(self.window_start.timestamp())
        return f"gw:spend:{{o{self.organization_id}}}:{self.policy_id}:{self.member}:{self.window}:{start}"

    def ttl_seconds(self, now: float) -> int:
        """Seconds the counter must live: past its window's end by KEEP_AFTER_WINDOW. Relative
        to the caller's clock, so the key lives as long as its window on that clock."""
        end = (window_end(self.window, self.window_start) + KEEP_AFTER_WINDOW).timestamp()
        return max(int(end - now), 60)


@dataclass(frozen=True, slots=True)
class ReserveResult:
    """ok; or the indexes of the counters that would exceed, with their current levels."""

    ok: bool
    over: tuple[int, ...] = ()
    levels: tuple[int, ...] = ()
    missing: tuple[int, ...] = ()


class RedisSpendStore(ScriptStore):
    """Runs the two scripts. The scripts are registered once per client (EVALSHA, falling back
    to EVAL only if Redis lost its script cache)."""

    def __init__(self, client: aioredis.Redis, *, max_in_flight: int = 32) -> None:
        super().__init__(client, max_in_flight=max_in_flight)
        self._reserve = client.register_script(RESERVE_LUA)
        self._settle = client.register_script(SETTLE_LUA)

    @staticmethod
    def _keys(counters: list[Counter]) -> list[str]:
        keys: list[str] = []
        for c in counters:
            keys += [c.key, c.key + ":r"]
        return keys

    async def reserve(
        self,
        counters: list[Counter],
        *,
        reservation_id: str,
        now: float,
        ttl_seconds: float,
        baselines: list[int] | None = None,
    ) -> ReserveResult:
        """Reserve each counter's amount on all of them, or on none. With `baselines` (micros
        per counter, read from PostgreSQL) missing counters are created first."""
        args: list[Any] = [
            int(now * 1000),
            reservation_id,
            int((now + ttl_seconds) * 1000),
            "1" if baselines is not None else "0",
        ]
        for i, c in enumerate(counters):
            args += [
                c.limit_micros,
                c.amount_micros,
                c.ttl_seconds(now),
                baselines[i] if baselines else 0,
            ]
        raw = await self._run_script(self._reserve, self._keys(counters), args)
        code = int(raw[0])
        if code == 1:
            return ReserveResult(ok=True)
        if code == 2:
            return ReserveResult(ok=False, missing=tuple(int(i) - 1 for i in raw[1]))
        return ReserveResult(
            ok=False, over=tuple(int(i) - 1 for i in raw[1]), levels=tuple(int(v) for v in raw[2])
        )

    async def settle(
        self, counters: list[Counter], *, reservation_id: str, actual: list[int]
    ) -> list[int | None]:
        """Release the reservation and add the actual cost (micros per counter); returns each
        counter's settled spend after it (None for a counter Redis does not hold)."""
        raw = await self._run_script(self._settle, self._keys(counters), [reservation_id, *actual])
        return [None if int(v) < 0 else int(v) for v in raw or []]

    async def extend(self, held: list[tuple[list[Counter], str]], *, expires_ms: int) -> None:
        """Push the expiry of open reservations ((counters, reservation id) pairs) to
        `expires_ms`, in one pipeline (one round trip per server). `ZADD XX` only updates a
        reservation still open: one settled, or already released as expired, is not brought
        back (its amount left `reserved` then)."""
        pipe = self.client.pipeline(transaction=False)
        for counters, reservation_id in held:
            for c in counters:
                pipe.zadd(c.key + ":r", {reservation_id: expires_ms}, xx=True)
        await self._execute(pipe)

    async def levels(self, counters: list[Counter]) -> list[tuple[int, int] | None]:
        """(spent, reserved) per counter, None when Redis has no such counter."""
        pipe = self.client.pipeline(transaction=False)
        for c in counters:
            pipe.hmget(c.key, "spent", "reserved")
        replies = await self._execute(pipe)
        out: list[tuple[int, int] | None] = []
        for spent, reserved in replies:
            out.append(None if spent is None else (int(spent), int(reserved or 0)))
        return out


def store_for_loop(url: str) -> RedisSpendStore:
    """The store on this process's client for the running event loop (policies.counters)."""
    return store_on_loop_client(url, RedisSpendStore)
