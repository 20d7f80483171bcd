"""Hand every CallRecord to the sink off the request path (docs/architecture.md §6).

`Recorder.submit` is a non-blocking `put_nowait` on an asyncio.Queue. One drain task takes what
is queued (up to GATEWAY_RECORD_BATCH_SIZE), and calls the sink named by
settings.GATEWAY_RECORD_SINK in a dedicated worker thread, so a slow database or broker never
stalls the event loop; batches go out one at a time, in order. The same thread writes keys'
last_used_at, at most once per GATEWAY_KEY_LAST_USED_INTERVAL per key.

If the sink cannot keep up and the queue is full, new records are dropped and counted (logged),
rather than growing memory without bound: the sink (tracing.shipping) owns durability.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from hotpath.callrecord import CallRecord

logger = logging.getLogger(__name__)

Sink = Callable[[list["CallRecord"]], None]

# The default sink keeps the latest records in memory, for tests and for a gateway with no
# tracing configured. Bounded, so it cannot grow without limit.
_MEMORY: deque[CallRecord] = deque(maxlen=10_000)


def memory_sink(records: list[CallRecord]) -> None:
    _MEMORY.extend(records)


def memory_records() -> list[CallRecord]:
    """What memory_sink has received so far (oldest first)."""
    return list(_MEMORY)


def memory_clear() -> None:
    _MEMORY.clear()


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
        self._queue: asyncio.Queue[CallRecord] = asyncio.Queue(
            maxsize=settings.GATEWAY_RECORD_QUEUE_SIZE
        )
        self._touched: dict[int, float] = {}  # key id -> monotonic time of the last touch
        self._pending_touch: set[int] = set()
        self._task: asyncio.Task[None] | None = None
        self._delivering = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-recorder")

    def submit(self, record: CallRecord) -> None:
        """Queue one record; never blocks, never raises."""
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                logger.error("record queue full: %d call records dropped so far", self.dropped)

    def pending(self) -> int:
        """Records queued and not yet handed to the sink."""
        return self._queue.qsize() + self._delivering

    def touch_key(self, key_id: int) -> None:
        """Note a key's use; its last_used_at is written by the drain thread, rate-limited."""
        now = time.monotonic()
        last = self._touched.get(key_id)
        if last is None or now - last >= self.touch_interval:
            self._touched[key_id] = now
            self._pending_touch.add(key_id)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="gateway-recorder"
            )

    async def stop(self) -> None:
        """Flush what is queued, then stop the drain task and its thread."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self._queue.empty() or self._pending_touch:
            await self._flush_once()
        await asyncio.get_running_loop().run_in_executor(self._executor, _close_connections)
        self._executor.shutdown(wait=True)

    async def _run(self) -> None:
        while True:
            record = await self._queue.get()
            full = await self._flush_once(first=record)
            if not full:
                await asyncio.sleep(self.flush_seconds)

    async def _flush_once(self, first: CallRecord | None = None) -> bool:
        batch: list[CallRecord] = [] if first is None else [first]
        while len(batch) < self.batch_size:
            try:
                batch.append(self._queue.get_nowait())
            except asyncio.QueueEmpty:
                break
        touches = list(self._pending_touch)
        self._pending_touch.clear()
        loop = asyncio.get_running_loop()
        self._delivering = len(batch)
        try:
            await loop.run_in_executor(self._executor, self._deliver, batch, touches)
        finally:
            self._delivering = 0
        return len(batch) >= self.batch_size

    def _deliver(self, batch: list[CallRecord], touches: list[int]) -> None:
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
