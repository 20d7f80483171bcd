"""Immutable snapshots of what the hot path reads, kept current by the change signal.

Keys, provider secrets, prices and every policy kind reach the proxy the same way: a plain
function reads the database and returns immutable data (`load`), and a `Snapshot` holds the
latest result for the whole process. Per call, `current()` answers from memory in well under a
microsecond; the ORM never runs on the request path.

Freshness, the one rule for all of them:
- a snapshot remembers the versions of its topics (hotpath.changes) it was loaded at; once any
  of them moved, `current()` answers None and `get()` waits for a reload: no call that starts
  after a change was signalled is served with the data from before it;
- without any signal, a snapshot is reloaded in the background every `refresh_seconds` (the
  safety net for a lost message), and every second while the remote signal is down;
- reloads run in Django's thread for sync code, never on the event loop; one at a time per
  snapshot (callers share it); the versions are read before the database, so a change
  committed during a load triggers another one;
- when a reload fails (the database briefly down) the last good snapshot keeps serving and the
  next attempt waits a second; with no snapshot at all, `get()` raises SnapshotUnavailable (the
  proxy answers 503), never serves as if there were no keys or policies.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings

from hotpath import changes
from hotpath.errors import ProxyError

logger = logging.getLogger(__name__)
T = TypeVar("T")

RETRY_SECONDS = 1.0  # after a failed load, and the refresh bound while the signal is down
MAX_CHAINED_RELOADS = 3  # a caller waits for at most this many reloads under constant change


class SnapshotUnavailable(ProxyError):
    """The data a call needs has never been loaded (database down since start-up)."""

    status = 503


_registry: weakref.WeakSet[Snapshot[object]] = weakref.WeakSet()


def _load_on_fresh_connection(load: Callable[[], T]) -> T:
    """`load` with Django's connection hygiene (this thread outlives requests): a broken or
    expired connection is replaced first. Inside a caller's transaction (a test driving a gate
    directly) the connection is the caller's and is left alone."""
    from django.db import close_old_connections, connection

    if connection.in_atomic_block:
        return load()
    close_old_connections()
    try:
        return load()
    finally:
        close_old_connections()


class Snapshot(Generic[T]):
    """The current `load()` result for this process (see the module docstring)."""

    def __init__(
        self,
        name: str,
        topics: tuple[str, ...],
        load: Callable[[], T],
        *,
        refresh_seconds: float | None = None,
        signal: changes.ChangeSignal | None = None,
    ) -> None:
        self.name = name
        self.topics = topics
        self._load = load
        self._refresh = refresh_seconds
        if signal is None:
            signal = changes.signal()
            signal.watch()  # subscribe this process to the remote signal (once)
        self._signal = signal
        self.value: T | None = None
        self.loaded_versions: tuple[int, ...] = ()
        self.loaded_at = float("-inf")
        # The signal's generation at which loaded_versions were last found current, and when
        # the age of the snapshot is next worth checking: what spares current() the work.
        self._current_at_generation = -1
        self._age_check_at = float("-inf")
        self._failed_at = float("-inf")
        self._running: Future[None] | None = None
        self._lock = threading.Lock()
        _registry.add(self)  # type: ignore[arg-type]

    # -- reading ----------------------------------------------------------------------------
    def _max_age(self) -> float:
        refresh = self._refresh
        if refresh is None:
            refresh = settings.GATEWAY_SNAPSHOT_REFRESH_SECONDS
        return refresh if self._signal.healthy else min(refresh, RETRY_SECONDS)

    def _changed(self) -> bool:
        return self._signal.versions(self.topics) != self.loaded_versions

    def current(self) -> T | None:
        """The snapshot if no change of its topics was seen since it was loaded, else None.
        Also starts the background refresh when the snapshot is older than its bound.

        Called several times per proxied call, so the common case costs two comparisons: no
        version moved since the last look (the signal's generation is the same) and the age
        bound is not near."""
        value = self.value
        if value is None:
            return None
        generation = self._signal.generation  # read before the versions it vouches for
        if generation != self._current_at_generation:
            if self._changed():
                return None
            self._current_at_generation = generation
        now = time.monotonic()
        if now >= self._age_check_at:
            age = now - self.loaded_at
            max_age = self._max_age()
            if age > max_age:
                self.refresh()
            else:
                # The bound only shrinks when the remote signal goes down, which also moves
                # every version (hotpath.changes): a reload, and this check, come first then.
                self._age_check_at = now + min(max_age - age, RETRY_SECONDS)
        return value

    async def get(self) -> T:
        """The snapshot, reloaded first (waiting) if a change was seen since it was loaded."""
        for _ in range(MAX_CHAINED_RELOADS):
            value = self.current()
            if value is not None:
                return value
            if time.monotonic() - self._failed_at < RETRY_SECONDS:
                break  # the database failed a moment ago: the last good one, or none
            await self.reload()
        if self.value is None:
            raise SnapshotUnavailable(
                f"the gateway cannot read its {self.name} yet (database unavailable)"
            )
        return self.value

    # -- loading ----------------------------------------------------------------------------
    async def reload(self) -> None:
        """Reload now, or wait for the reload already running (one at a time). Never raises:
        a failure is logged and the previous snapshot kept.

        The load runs in Django's thread for sync code (asgiref's thread-sensitive mode):
        off the event loop, one at a time per process, on a connection that thread keeps."""
        with self._lock:
            running = self._running
            if running is None or running.done():
                running = self._running = Future()
                mine = True
            else:
                mine = False
        if not mine:
            await asyncio.wrap_future(running)
            return
        # Shielded: a caller that goes away (client disconnect) does not abort the reload the
        # other callers wait for.
        await asyncio.shield(asyncio.ensure_future(self._reload_in_sync_thread(running)))

    async def _reload_in_sync_thread(self, done: Future[None]) -> None:
        try:
            await sync_to_async(self._reload, thread_sensitive=True)()
        finally:
            done.set_result(None)

    def refresh(self) -> None:
        """Start a reload in the background unless one is running (needs a running loop)."""
        running = self._running
        if running is None or running.done():
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return  # no event loop here (a command, a test): the next get() reloads
            task = asyncio.ensure_future(self.reload())
            _background.add(task)
            task.add_done_callback(_background.discard)

    def load_now(self) -> None:
        """Reload synchronously in the calling thread (commands, tests)."""
        self._reload()

    def _reload(self) -> None:
        versions = self._signal.versions(self.topics)  # before reading the database
        started = time.monotonic()
        try:
            value = _load_on_fresh_connection(self._load)
        except Exception:
            self._failed_at = time.monotonic()
            if self.value is None:
                logger.exception("could not load the gateway's %s", self.name)
            else:
                logger.warning(
                    "could not reload the gateway's %s; keeping the previous one",
                    self.name,
                    exc_info=True,
                )
            return
        self.value, self.loaded_versions, self.loaded_at = value, versions, started
        self._current_at_generation = -1
        self._age_check_at = float("-inf")


_background: set[asyncio.Task[None]] = set()  # keeps background reloads from being collected


def refresh_due() -> None:
    """Start the reload of every snapshot of this process that a change or its age made due
    (the proxy's watcher task calls this a few times a second: idle processes catch up before
    their next call needs to wait)."""
    for snapshot in list(_registry):
        if snapshot.value is None or snapshot._changed():
            snapshot.refresh()
        else:
            snapshot.current()
