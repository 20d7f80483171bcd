"""Hand every CallRecord to the sink off the request path (docs/architecture.md §6).

`Recorder.submit` appends to a bounded in-process queue (a deque: an append, and a wake-up only
when the drain task sleeps waiting for a first record). One drain task takes what is queued (up to GATEWAY_RECORD_BATCH_SIZE), and calls the sink named by
settings.GATEWAY_RECORD_SINK in a dedicated worker thread, so a slow database or broker never
stalls the event loop; batches go out one at a time, in order. The same thread writes keys'
last_used_at, at most once per GATEWAY_KEY_LAST_USED_INTERVAL per key.

If the sink cannot keep up and the queue is full, new records are dropped and counted (logged),
rather than growing memory without bound: the sink (tracing.shipping) owns durability.
GATEWAY_RECORD_FLUSH_SECONDS (50 ms by default) bounds how long a record waits here, and so
what a worker killed outright can lose.

A sink may carry `open` and `close` attributes: `open` is called in the same thread when the
recorder starts (the default sink starts the record writer there, so that it is ready before
the first batch, shutdown's included), `close` after the last batch, at shutdown.

Calls refused before a workspace was known (hotpath.refusals) are counted here per minute,
reason, key prefix and client address, and the counts go to the sink with the next batch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils.module_loading import import_string

from hotpath.refusals import RefusedCalls

if TYPE_CHECKING:
    from hotpath.callrecord import CallRecord

logger = logging.getLogger(__name__)

Sink = Callable[[list["CallRecord | RefusedCalls"]], None]
RefusalKey = tuple[int, str, str, str, int | None]  # minute, reason, prefix, address, org

# The default sink keeps the latest records in memory, for tests and for a gateway with no
# tracing configured. Bounded, so it cannot grow without limit.
_MEMORY: deque[CallRecord] = deque(maxlen=10_000)
_MEMORY_REFUSED: deque[RefusedCalls] = deque(maxlen=10_000)


def memory_sink(records: list[CallRecord | RefusedCalls]) -> None:
    for record in records:
        if isinstance(record, RefusedCalls):
            _MEMORY_REFUSED.append(record)
        else:
            _MEMORY.append(record)


def memory_records() -> list[CallRecord]:
    """The call records memory_sink has received so far (oldest first)."""
    return list(_MEMORY)


def memory_refusals() -> list[RefusedCalls]:
    """The refused-call counts memory_sink has received so far (oldest first)."""
    return list(_MEMORY_REFUSED)


def memory_clear() -> None:
    _MEMORY.clear()
    _MEMORY_REFUSED.clear()


def _touch_keys(key_ids: list[int]) -> None:
    """last_used_at for keys used since the last batch; orgs' service rate-limits the write."""
    from orgs.models import ApiKey
    from orgs.services import api_key_touch

    for key_id in key_ids:
        # A bare instance with last_used_at unknown: api_key_touch's conditional UPDATE decides.
        api_key_touch(api_key=ApiKey(pk=key_id, last_used_at=None))


def _close_connections() -> None:
    from django.db import connections

    connections.close_all()


class Recorder:
    """The per-process queue and its drain task. start() and stop() run in the ASGI lifespan."""

    def __init__(self, sink: Sink | None = None) -> None:
        self.sink: Sink = sink or import_string(settings.GATEWAY_RECORD_SINK)
        self.batch_size = max(1, settings.GATEWAY_RECORD_BATCH_SIZE)
        self.flush_seconds = settings.GATEWAY_RECORD_FLUSH_SECONDS
        self.touch_interval = settings.GATEWAY_KEY_LAST_USED_INTERVAL
        self.dropped = 0
        self.queue_size = settings.GATEWAY_RECORD_QUEUE_SIZE
        self._queue: deque[CallRecord] = deque()
        # Set while the drain task waits for something to deliver (a record, refusals, stop).
        self._waiting: asyncio.Future[None] | None = None
        self._refused: dict[RefusalKey, RefusedCalls] = {}
        self._touched: dict[int, float] = {}  # key id -> monotonic time of the last touch
        self._pending_touch: set[int] = set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._delivering = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-recorder")

    def submit(self, record: CallRecord) -> None:
        """Queue one record; never blocks, never raises."""
        if len(self._queue) >= self.queue_size:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                logger.error("record queue full: %d call records dropped so far", self.dropped)
            return
        self._queue.append(record)
        if self._waiting is not None:
            self._wake()

    def _wake(self) -> None:
        waiting, self._waiting = self._waiting, None
        if waiting is not None and not waiting.done():
            waiting.set_result(None)

    def refuse(
        self,
        *,
        reason: str,
        key_prefix: str,
        client_address: str,
        organization_id: int | None,
        path: str,
    ) -> None:
        """Count one call refused before a workspace was known; never blocks, never raises.
        Memory is bounded by the distinct (minute, reason, prefix, address) seen between two
        flushes, a few hundred milliseconds at most."""
        minute = int(time.time()) // 60 * 60
        key = (minute, reason, key_prefix, client_address, organization_id)
        counted = self._refused.get(key)
        if counted is not None:
            counted.count += 1
            return
        wake = not self._refused
        self._refused[key] = RefusedCalls(
            minute=minute,
            reason=reason,
            key_prefix=key_prefix,
            client_address=client_address,
            organization_id=organization_id,
            path=path[:200],
        )
        if wake:
            self._wake()

    def pending(self) -> int:
        """Records queued and not yet handed to the sink."""
        return len(self._queue) + self._delivering + len(self._refused)

    def touch_key(self, key_id: int) -> None:
        """Note a key's use; its last_used_at is written by the drain thread, rate-limited."""
        now = time.monotonic()
        last = self._touched.get(key_id)
        if last is None or now - last >= self.touch_interval:
            self._touched[key_id] = now
            self._pending_touch.add(key_id)

    def start(self) -> None:
        if self._task is None:
            loop = asyncio.get_running_loop()
            if getattr(self.sink, "open", None) is not None:
                loop.run_in_executor(self._executor, self._open)
            self._task = loop.create_task(self._run(), name="gateway-recorder")

    def _open(self) -> None:
        """In the recorder thread, before any batch: the sink's own `open`."""
        try:
            self.sink.open()  # type: ignore[attr-defined]
        except Exception:
            logger.exception("record sink failed to open")

    async def stop(self) -> None:
        """Flush what is queued, then stop the drain task and its thread. The drain task is
        asked to finish, never cancelled: a batch waiting for the thread would be dropped."""
        if self._task is not None:
            self._stopping = True
            self._wake()  # if it waits for a record
            await self._task
            self._task = None
        while self._queue or self._pending_touch or self._refused:
            await self._flush_once()
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=True)

    def _close(self) -> None:
        """In the recorder thread, after the last batch: the sink's own `close`, if it has one
        (the default sink waits there for the record writer it started), then the database
        connection of this thread."""
        close = getattr(self.sink, "close", None)
        if close is not None:
            try:
                close()
            except Exception:
                logger.exception("record sink failed to close")
        _close_connections()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            if not self._queue and not self._refused:
                self._waiting = loop.create_future()
                await self._waiting
                if self._stopping:
                    break
            full = await self._flush_once()
            if not full and not self._stopping:
                await asyncio.sleep(self.flush_seconds)

    async def _flush_once(self) -> bool:
        queue = self._queue
        take = min(len(queue), self.batch_size)
        batch: list[CallRecord | RefusedCalls] = [queue.popleft() for _ in range(take)]
        full = take >= self.batch_size
        if self._refused:
            batch.extend(self._refused.values())
            self._refused = {}
        touches = list(self._pending_touch)
        self._pending_touch.clear()
        loop = asyncio.get_running_loop()
        self._delivering = len(batch) + len(touches)  # (pending until written, touches too)
        try:
            await loop.run_in_executor(self._executor, self._deliver, batch, touches)
        finally:
            self._delivering = 0
        return full

    def _deliver(self, batch: list[CallRecord | RefusedCalls], touches: list[int]) -> None:
        """In the recorder thread: the sink, then last_used_at. Failures are logged, not raised:
        the sink is responsible for its own retries and spooling."""
        from django.db import close_old_connections

        close_old_connections()
        if batch:
            try:
                self.sink(batch)
            except Exception:
                logger.exception("record sink failed on a batch of %d call records", len(batch))
        if touches:
            try:
                _touch_keys(touches)
            except Exception:
                logger.exception("could not write last_used_at for %d keys", len(touches))
