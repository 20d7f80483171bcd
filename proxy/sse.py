"""Reading usage out of a response stream as it passes, without holding it back.

Memory is bounded by the bytes kept, never by dropping what must be read: an event up to
MAX_EVENT_BYTES is kept whole and decoded; a larger one (a Responses `response.completed`
echoes the whole answer, its instructions and tools, and can pass several MiB) is read as it
streams into a *skeleton*: the same JSON with every string longer than LONG_STRING bytes
emptied, which keeps its structure, keys, numbers and short values (the event type, the usage
object) in a few KiB. The skeleton is decoded like any event, so usage is read wherever it sits.
"""

from __future__ import annotations

import logging
import re
from types import ModuleType
from typing import Any

import orjson

from pricing.table import Usage

logger = logging.getLogger(__name__)

MAX_EVENT_BYTES = 1024 * 1024  # an event kept whole up to this size, read as a skeleton beyond
MAX_SKELETON_BYTES = 1024 * 1024  # structure kept of one oversized event (or JSON stream)
LONG_STRING = 256  # strings longer than this are emptied in a skeleton
# The rest of a JSON string from inside it: anything but a quote or a backslash, or an escape.
_STRING_BODY = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*', re.DOTALL)


class Skeleton:
    """Incremental JSON text → the same text with long strings emptied (bounded)."""

    __slots__ = ("_buf", "_escape", "_in_string", "_long", "out", "overflow")

    def __init__(self) -> None:
        self.out = bytearray()
        self.overflow = False
        self._in_string = False
        self._escape = False  # the last byte fed was a backslash inside a string
        self._buf = bytearray()  # the current string, while it is short
        self._long = False

    def feed(self, data: bytes) -> None:
        i, n = 0, len(data)
        while i < n:
            if not self._in_string:
                quote = data.find(b'"', i)
                if quote < 0:
                    self._emit(data[i:])
                    return
                self._emit(data[i:quote])
                self._in_string, self._long = True, False
                self._buf.clear()
                i = quote + 1
                continue
            if self._escape:  # a backslash ended the previous piece: this byte is escaped
                self._keep(data[i : i + 1])
                self._escape = False
                i += 1
                continue
            match = _STRING_BODY.match(data, i)
            end = match.end() if match is not None else i
            self._keep(data[i:end])
            if end >= n:
                return
            if data[end] == 0x5C:  # a lone backslash at the end of this piece
                self._keep(b"\\")
                self._escape = True
                return
            self._emit(b'"' + (b"" if self._long else bytes(self._buf)) + b'"')
            self._in_string = False
            i = end + 1

    def _keep(self, piece: bytes) -> None:
        if self._long or not piece:
            return
        self._buf += piece
        if len(self._buf) > LONG_STRING:
            self._long = True
            self._buf.clear()

    def _emit(self, piece: bytes) -> None:
        if self.overflow or not piece:
            return
        if len(self.out) + len(piece) > MAX_SKELETON_BYTES:
            self.overflow = True
            self.out.clear()
            return
        self.out += piece


class UsageScanner:
    """Feed it the upstream bytes; `usage` holds the latest usage the provider reported and
    `events` counts the events that went by.

    SSE events are split on blank lines; only events mentioning `"usage` (OpenAI `usage`,
    Anthropic `usage`, Gemini `usageMetadata`) are JSON-decoded, so text deltas cost a substring
    search. A non-SSE stream (Gemini without alt=sse: one JSON array) is kept whole up to
    MAX_EVENT_BYTES, as a skeleton beyond, and decoded at the end.
    """

    __slots__ = (
        "_cr",
        "_endpoint",
        "_json",
        "_last",
        "_parts",
        "_parts_size",
        "_pending",
        "_provider",
        "_skeleton",
        "events",
        "usage",
    )

    def __init__(self, provider: ModuleType, endpoint: str, *, sse: bool) -> None:
        self._provider = provider
        self._endpoint = endpoint
        self._json = not sse
        self._pending = b""
        self._parts: list[bytes] = []  # chunks after _pending that hold no line break
        self._parts_size = 0
        self._skeleton: Skeleton | None = None
        self._last = b""  # the last byte of an oversized event so far (a blank line may span)
        self._cr = False  # an oversized event's last chunk ended with \r
        self.usage: Usage | None = None
        self.events = 0

    def feed(self, chunk: bytes) -> None:
        if self._json:
            self._feed_json(chunk)
            return
        if self._skeleton is not None:
            chunk = self._feed_oversized(chunk)
            if not chunk:
                return
        if self._pending and b"\n" not in chunk and b"\r" not in chunk:
            # The middle of a long event: no event can end here (append without re-scanning).
            self._parts.append(chunk)
            self._parts_size += len(chunk)
            if len(self._pending) + self._parts_size <= MAX_EVENT_BYTES:
                return
            chunk = b""
        if self._parts:
            chunk = b"".join((*self._parts, chunk))
            self._parts, self._parts_size = [], 0
        data = self._pending + chunk if self._pending else chunk
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
        end = data.rfind(b"\n\n")
        if end < 0:
            self._pending = data
        else:
            self._pending = data[end + 2 :]
            complete = data[:end]
            self.events += complete.count(b"\n\n") + 1
            if b'"usage' in complete:
                for event in complete.split(b"\n\n"):
                    if b'"usage' in event:
                        self._event(event)
        if len(self._pending) > MAX_EVENT_BYTES:
            # One event larger than we keep whole: read the rest of it as a skeleton.
            pending, self._pending = self._pending, b""
            self._skeleton = Skeleton()
            self._last = b""
            self._cr = pending.endswith(b"\r")
            self._skeleton.feed(pending[:-1] if self._cr else pending)
            self._last = pending[-1:]

    def _feed_oversized(self, chunk: bytes) -> bytes:
        """Feed an oversized event; return what follows its end (b"" while it goes on)."""
        data = (b"\r" + chunk) if self._cr else chunk
        cr = self._cr = data.endswith(b"\r")
        if cr:
            data = data[:-1]
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
        probe = self._last + data
        blank = probe.find(b"\n\n")
        if blank < 0:
            if self._skeleton is not None:
                self._skeleton.feed(data)
            if data:
                self._last = data[-1:]
            return b""
        cut = blank + 2 - len(self._last)  # the index in data just after the blank line
        if self._skeleton is not None:
            self._skeleton.feed(data[: max(cut - 2, 0)])
        self._finish_oversized()
        rest = data[cut:]
        return rest + b"\r" if cr else rest

    def _finish_oversized(self) -> None:
        skeleton, self._skeleton = self._skeleton, None
        self._cr, self._last = False, b""
        self.events += 1
        if skeleton is None:
            return
        if skeleton.overflow:
            logger.warning(
                "a stream event's structure passed %d bytes: its usage was not read",
                MAX_SKELETON_BYTES,
            )
            return
        if b'"usage' in skeleton.out:
            self._event(bytes(skeleton.out))

    def _feed_json(self, chunk: bytes) -> None:
        self.events += 1
        if self._skeleton is not None:
            self._skeleton.feed(chunk)
            return
        self._parts.append(chunk)
        self._parts_size += len(chunk)
        if self._parts_size > MAX_EVENT_BYTES:
            self._skeleton = Skeleton()
            self._skeleton.feed(b"".join(self._parts))
            self._parts, self._parts_size = [], 0

    def close(self) -> None:
        if self._json:
            data = b"".join(self._parts)
            self._parts, self._parts_size = [], 0
            if self._skeleton is not None:
                data = b"" if self._skeleton.overflow else bytes(self._skeleton.out)
                self._skeleton = None
            if data:
                try:
                    obj: Any = orjson.loads(data)
                except orjson.JSONDecodeError:
                    obj = None
                usage = self._provider.usage_from_body(self._endpoint, obj)
                if usage is not None:
                    self.usage = usage
        elif self._skeleton is not None:
            self._finish_oversized()
        else:
            if self._parts:
                self._pending += b"".join(self._parts)
                self._parts, self._parts_size = [], 0
            self._close_pending()
        self._pending = b""

    def _close_pending(self) -> None:
        if self._pending.strip():
            self.events += 1
            if b'"usage' in self._pending:
                self._event(self._pending)

    def _event(self, event: bytes) -> None:
        lines = [line[5:].lstrip() for line in event.split(b"\n") if line.startswith(b"data:")]
        if not lines:
            return
        try:
            obj = orjson.loads(b"\n".join(lines))
        except orjson.JSONDecodeError:
            return
        self.usage = self._provider.usage_from_event(self._endpoint, obj, self.usage)
