"""Server-sent events split as they arrive, for stream translation (bounded by the caller's
event sizes: a partial event is kept until its blank line arrives)."""

from __future__ import annotations

from typing import Any

import orjson


class EventReader:
    """Feed bytes; get back the JSON `data` of each complete event (``[DONE]`` as the string
    "[DONE]", unparseable data as None)."""

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, chunk: bytes) -> list[Any]:
        data = self._pending + chunk if self._pending else chunk
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
        end = data.rfind(b"\n\n")
        if end < 0:
            self._pending = data
            return []
        self._pending = data[end + 2 :]
        return [_decode(event) for event in data[:end].split(b"\n\n") if event.strip()]

    def close(self) -> list[Any]:
        rest, self._pending = self._pending, b""
        return [_decode(rest)] if rest.strip() else []


def _decode(event: bytes) -> Any:
    lines = [line[5:].lstrip() for line in event.split(b"\n") if line.startswith(b"data:")]
    if not lines:
        return None
    data = b"\n".join(lines)
    if data == b"[DONE]":
        return "[DONE]"
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


def event(data: Any, name: str | None = None) -> bytes:
    head = b"event: " + name.encode() + b"\n" if name else b""
    return head + b"data: " + orjson.dumps(data) + b"\n\n"
