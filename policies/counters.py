"""Primitives every counting policy kind shares (spend limits, rate limits): one Redis client
per process and event loop, and the serialisation of database counter transactions in the
embedded mode. Each kind keeps its own scripts and tables (policies/<kind>/store_*.py)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import OperationalError, connection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError

if TYPE_CHECKING:
    import redis.asyncio as aioredis

T = TypeVar("T")

ACQUIRE_TIMEOUT_SECONDS = 5.0  # longest wait for a free connection before the call fails (503)

_clients: list[tuple[asyncio.AbstractEventLoop, str, Any]] = []
_stores: dict[type, Any] = {}


def redis_for_loop(url: str) -> aioredis.Redis:
    """One client per process and event loop: a redis.asyncio connection belongs to the loop
    that opened it (each gunicorn worker runs one loop; tests run one per test). A single
    server or a Redis Cluster (hotpath.redis_client): every script's keys share the `{o<org>}`
    hash tag, so each runs on the one node that holds that slot."""
    from hotpath.redis_client import async_client

    loop = asyncio.get_running_loop()
    if _clients and _clients[0][0] is loop and _clients[0][1] == url:
        return _clients[0][2]
    # A blocking pool: a burst of calls waits (bounded) for one of a few connections instead of
    # opening one each (which fails with "too many connections" or connect timeouts).
    client = async_client(
        url, max_connections=64, timeout=5, socket_timeout=5, socket_connect_timeout=2
    )
    _clients[:] = [(loop, url, client)]
    _stores.clear()
    return client


S = TypeVar("S", bound="ScriptStore")


def store_on_loop_client(url: str, cls: type[S]) -> S:
    """The `cls` store (one per kind) on this process's client for the running loop."""
    client = redis_for_loop(url)
    store = _stores.get(cls)
    if store is None or store.client is not client:
        store = _stores[cls] = cls(client)
    return store  # type: ignore[no-any-return]


def pack_bulk(args: Iterable[bytes | str | int]) -> bytes:
    """Redis protocol bulk strings of `args`, as a command's arguments are sent."""
    parts = []
    for arg in args:
        raw = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    return b"".join(parts)


def pack_evalsha_head(
    sha: str, keys: Sequence[bytes], statics: Sequence[bytes], rest: int
) -> bytes:
    """The start of `EVALSHA sha numkeys keys… statics…` followed by `rest` more arguments:
    what a call's script command shares with every other call on the same counters, packed
    once (the call adds pack_bulk of its own arguments)."""
    count = 3 + len(keys) + len(statics) + rest
    return b"*%d\r\n" % count + pack_bulk(["EVALSHA", sha, len(keys), *keys, *statics])


class ScriptStore:
    """A counter store that runs Lua scripts (one call = one script over all its counters) on a
    single server or a cluster.

    On a single server, scripts whose command is packed ahead of time (`_run_packed`) go
    through connections of the store's own (at most `max_in_flight`), written and read
    directly: redis-py's client path (pool checkout, command packing, retry and observability
    wrappers) costs about as much CPU as the round trip itself, measured here (a PING: ~190 µs
    through the client, ~100 µs on a connection), and a rate-limit check sits on every call's
    path. A connection whose command failed midway (an error, a timeout, the call cancelled) is
    closed, never reused with a reply pending; one the server closed while idle reconnects
    before use. A cluster client routes by key and keeps the client path."""

    def __init__(self, client: aioredis.Redis, *, max_in_flight: int = 32) -> None:
        self.client = client
        pool = getattr(client, "connection_pool", None)  # None: a cluster client
        self._pool = pool
        self._idle: list[Any] = []  # this store's own connections, free now
        # A cluster client opens connections up to its cap and then fails at once: a burst of
        # calls waits (bounded) for its turn here instead, as the single server's blocking pool
        # makes it wait for a connection.
        self._slots = asyncio.Semaphore(max_in_flight)
        self._topology = asyncio.Lock()

    async def _acquire(self) -> None:
        if self._slots.locked():  # all slots taken: wait for one, bounded
            await asyncio.wait_for(self._slots.acquire(), ACQUIRE_TIMEOUT_SECONDS)
        else:  # the common case, with no timer and no task (wait_for makes both)
            await self._slots.acquire()
        # redis.asyncio.RedisCluster learns the cluster's slots on first use, and again after a
        # node failed. Commands racing that initialisation can find their connection closed
        # under them (AttributeError inside redis-py): one command at a time initialises it.
        if getattr(self.client, "_initialize", False):
            async with self._topology:
                if getattr(self.client, "_initialize", False):
                    try:
                        await self.client.initialize()
                    except BaseException:
                        self._slots.release()
                        raise

    async def _run(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        await self._acquire()
        try:
            return await script(keys=keys, args=args)
        except (AttributeError, RuntimeError) as exc:  # a cluster connection closed under it
            raise RedisConnectionError(f"Redis Cluster connection lost ({exc})") from exc
        finally:
            self._slots.release()

    async def _run_packed(
        self, script: Any, command: list[bytes], keys: Sequence[Any], args: Sequence[Any]
    ) -> Any:
        """Run `script` (a registered AsyncScript) whose EVALSHA is packed in `command`; `keys`
        and `args` are the same call for a cluster client's path."""
        if self._pool is None:
            return await self._run(script, list(keys), list(args))
        await self._acquire()
        conn = self._idle.pop() if self._idle else self._pool.make_connection()
        try:
            reply = await _exchange(conn, command, script)
        except BaseException as exc:
            await conn.disconnect(nowait=True)  # a reply may still be on its way
            self._idle.append(conn)  # connects again when next used
            self._slots.release()
            if isinstance(exc, RuntimeError):
                # uvloop's "unable to perform operation on <TCPTransport closed=True>": the
                # server went away while the connection (re)connected (a Redis restart).
                raise RedisConnectionError(f"Redis connection lost ({exc})") from exc
            raise
        self._idle.append(conn)
        self._slots.release()
        return reply

    async def _run_script(self, script: Any, keys: list[Any], args: list[Any]) -> Any:
        """Run `script` as `_run` does, its command packed here (a few microseconds, where
        redis-py's packing of every argument costs tens) and sent as `_run_packed` sends."""
        head = b"*%d\r\n" % (3 + len(keys) + len(args))
        command = [head + pack_bulk(["EVALSHA", script.sha, len(keys), *keys, *args])]
        return await self._run_packed(script, command, keys, args)

    async def _execute(self, pipe: Any) -> Any:
        await self._acquire()
        try:
            return await pipe.execute()
        except (AttributeError, RuntimeError) as exc:  # a cluster connection closed under it
            raise RedisConnectionError(f"Redis Cluster connection lost ({exc})") from exc
        finally:
            self._slots.release()


async def _exchange(conn: Any, command: list[bytes], script: Any) -> Any:
    """Send a packed script command on `conn` and read its reply. A connection the server
    closed while it was idle (a restart, a timeout) connects again first; a server without the
    script (restarted) gets it loaded on the same connection, and the command again."""
    if conn.is_connected and await conn.can_read():
        # Closed by the server while idle (or, never expected, holding stray data).
        await conn.disconnect(nowait=True)
    await conn.send_packed_command(command, check_health=False)
    try:
        return await conn.read_response()
    except NoScriptError:
        load = b"*3\r\n" + pack_bulk(["SCRIPT", "LOAD", script.script])
        await conn.send_packed_command(load, check_health=False)
        await conn.read_response()
        await conn.send_packed_command(command, check_health=False)
        return await conn.read_response()


# Within one process the gates' worker threads take turns: contention then happens only between
# processes, where SQLite's busy timeout (settings: 20 s) queues writers. This is not what makes
# the counters correct (each store's conditional statements are); it keeps SQLite from
# answering "locked".
_process_lock = threading.Lock()


def serialised(fn: Callable[[], T]) -> T:
    """Run `fn` (one whole transaction) under the process lock; on SQLite, retry a few times if
    another process held the database past the busy timeout (all or nothing each time)."""
    for attempt in range(5):
        try:
            with _process_lock:
                return fn()
        except OperationalError as exc:
            if connection.vendor != "sqlite" or "locked" not in str(exc) or attempt == 4:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover
