"""Reading usage out of a response stream as it passes, without holding it back."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import orjson

from pricing.table import Usage

_MAX_PENDING = 1024 * 1024  # an "event" longer than this is not one we can read usage from


class UsageScanner:
    """Feed it the upstream bytes; `usage` holds the latest usage the provider reported.

    SSE events are split on blank lines; only events mentioning `"usage` (OpenAI `usage`,
    Anthropic `usage`, Gemini `usageMetadata`) are JSON-decoded, so text deltas cost a substring
    search. A non-SSE stream (Gemini without alt=sse: one JSON array) is kept, bounded, and
    decoded at the end.
    """

    __slots__ = ("_endpoint", "_json", "_pending", "_provider", "usage")

    def __init__(self, provider: ModuleType, endpoint: str, *, sse: bool) -> None:
        self._provider = provider
        self._endpoint = endpoint
        self._json = not sse
        self._pending = b""
        self.usage: Usage | None = None

    def feed(self, chunk: bytes) -> None:
        if self._json:
            if len(self._pending) < 8 * _MAX_PENDING:
                self._pending += chunk
            return
        data = self._pending + chunk if self._pending else chunk
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
        end = data.rfind(b"\n\n")
        if end < 0:
            self._pending = data if len(data) < _MAX_PENDING else b""
            return
        self._pending = data[end + 2 :]
        complete = data[:end]
        if b'"usage' not in complete:
            return
        for event in complete.split(b"\n\n"):
            if b'"usage' in event:
                self._event(event)

    def close(self) -> None:
        if self._json and self._pending:
            try:
                obj: Any = orjson.loads(self._pending)
            except orjson.JSONDecodeError:
                return
            usage = self._provider.usage_from_body(self._endpoint, obj)
            if usage is not None:
                self.usage = usage
        elif self._pending and b'"usage' in self._pending:
            self._event(self._pending)
        self._pending = b""

    def _event(self, event: bytes) -> None:
        lines = [line[5:].lstrip() for line in event.split(b"\n") if line.startswith(b"data:")]
        if not lines:
            return
        try:
            obj = orjson.loads(b"\n".join(lines))
        except orjson.JSONDecodeError:
            return
        self.usage = self._provider.usage_from_event(self._endpoint, obj, self.usage)
