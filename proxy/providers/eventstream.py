"""The AWS event stream (application/vnd.amazon.eventstream): Bedrock's streamed answers.

Decoding is botocore's (`EventStreamBuffer`: prelude and message CRCs checked, headers parsed);
this module reads usage out of the decoded events as they pass, encodes the one frame the
gateway itself sends (the exception that ends a stream the upstream broke), and lets the
response filters written for server-sent events (redaction restore) work on an event stream
(`SseBridge`).

Each binary message: total length (u32), headers length (u32), prelude CRC32, headers (name
length u8, name, type u8, value), payload, message CRC32; all big-endian.
"""

from __future__ import annotations

import base64
import binascii
import logging
import struct
from types import ModuleType
from typing import Any

import orjson
from botocore.eventstream import EventStreamBuffer, ParserError

from pricing.table import Usage

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/vnd.amazon.eventstream"
_STRING = 7  # header value type: UTF-8 string (u16 length)


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One event stream message with string headers."""
    encoded = b"".join(
        struct.pack(">B", len(name.encode()))
        + name.encode()
        + struct.pack(">BH", _STRING, len(value.encode()))
        + value.encode()
        for name, value in headers.items()
    )
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    prelude += struct.pack(">I", binascii.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + encoded + payload
    return message + struct.pack(">I", binascii.crc32(message) & 0xFFFFFFFF)


def event(event_type: str, payload: Any) -> bytes:
    """An `event` message of `event_type` with a JSON payload."""
    return encode_message(
        {
            ":event-type": event_type,
            ":content-type": "application/json",
            ":message-type": "event",
        },
        orjson.dumps(payload),
    )


def exception(kind: str, message: str) -> bytes:
    """An `exception` message (what Bedrock sends when a stream fails mid-way): botocore and
    the Anthropic SDK raise on it."""
    return encode_message(
        {
            ":exception-type": kind,
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        orjson.dumps({"message": message}),
    )


def chunk_event(anthropic_event: Any) -> bytes:
    """An InvokeModelWithResponseStream `chunk`: the model's event JSON, base64 in `bytes`."""
    return event("chunk", {"bytes": base64.b64encode(orjson.dumps(anthropic_event)).decode()})


class EventStreamScanner:
    """The UsageScanner of an event stream: feed it the upstream bytes; `usage` holds the latest
    usage reported and `events` counts the messages that went by. Memory is bounded by one
    message (the buffer holds only an incomplete one), plus, for a trace, up to `trace_limit`
    bytes of the decoded events as text (`trace_text`)."""

    __slots__ = (
        "_broken",
        "_buffer",
        "_endpoint",
        "_kept",
        "_kept_size",
        "_provider",
        "_trace_limit",
        "events",
        "usage",
    )

    def __init__(self, provider: ModuleType, endpoint: str, *, trace_limit: int = 0) -> None:
        self._provider = provider
        self._endpoint = endpoint
        self._buffer = EventStreamBuffer()
        self._broken = False
        self._trace_limit = trace_limit
        self._kept: list[bytes] = []
        self._kept_size = 0
        self.usage: Usage | None = None
        self.events = 0

    def feed(self, chunk: bytes) -> None:
        if self._broken:
            return
        self._buffer.add_data(chunk)
        try:
            for message in self._buffer:
                self.events += 1
                self._message(message.headers, message.payload)
        except ParserError as exc:
            # The client's decoder fails on it too; what was read so far stays counted.
            logger.warning("an event stream from the provider did not decode: %s", exc)
            self._broken = True

    def _message(self, headers: dict[str, Any], payload: bytes) -> None:
        kind = str(headers.get(":event-type") or headers.get(":exception-type") or "")
        if headers.get(":message-type") == "event" and kind == "chunk":
            try:  # the model's event, base64 in `bytes`
                payload = base64.b64decode(orjson.loads(payload)["bytes"])
            except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
                return
        self._keep(kind, payload)
        # Only events that carry usage are decoded (text deltas cost a substring search).
        if headers.get(":message-type") != "event" or b'"usage"' not in payload:
            return
        try:
            obj = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        self.usage = self._provider.usage_from_event(self._endpoint, {kind: obj}, self.usage)

    def _keep(self, kind: str, payload: bytes) -> None:
        room = self._trace_limit - self._kept_size
        if room <= 0:
            return
        text = b"event: " + kind.encode() + b"\ndata: " + payload + b"\n\n"
        self._kept.append(text[:room])
        self._kept_size += len(self._kept[-1])

    def trace_text(self) -> str:
        """The decoded events so far, as server-sent events text (what a trace shows)."""
        return b"".join(self._kept).decode("utf-8", "replace")

    def close(self) -> None:
        """Nothing is left to read: an incomplete last message carries nothing usable."""


class EventDecoder:
    """A Bedrock stream decoded for the unified endpoints' translation: feed bytes, get back
    each whole message's event — an InvokeModelWithResponseStream `chunk` as the model's own
    event (its decoded JSON), a ConverseStream event as {event type: payload}, an exception as
    an Anthropic-style `error` event. A stream that does not decode gives an `error` event
    once, then nothing."""

    __slots__ = ("_broken", "_buffer")

    def __init__(self) -> None:
        self._buffer = EventStreamBuffer()
        self._broken = False

    def feed(self, chunk: bytes) -> list[Any]:
        if self._broken or not chunk:
            return []
        self._buffer.add_data(chunk)
        out: list[Any] = []
        try:
            for message in self._buffer:
                out.append(_decoded(message.headers, message.payload))
        except ParserError:
            self._broken = True
            out.append(_error("the provider's event stream did not decode"))
        return [obj for obj in out if obj is not None]

    def close(self) -> list[Any]:
        return []


def _decoded(headers: dict[str, Any], payload: bytes) -> Any:
    if headers.get(":message-type") != "event":
        kind = str(headers.get(":exception-type") or "exception")
        try:
            message = orjson.loads(payload).get("message")
        except (orjson.JSONDecodeError, AttributeError):
            message = None
        return _error(f"{kind}: {message or 'the provider failed mid-stream'}")
    kind = str(headers.get(":event-type") or "")
    try:
        if kind == "chunk":
            return orjson.loads(base64.b64decode(orjson.loads(payload)["bytes"]))
        return {kind: orjson.loads(payload)}
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        return None


def _error(message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": "api_error", "message": message}}


def as_sse(events: list[Any]) -> bytes:
    """Anthropic events as the server-sent events the first-party API streams."""
    return b"".join(
        b"event: " + str(obj.get("type", "")).encode() + b"\ndata: " + orjson.dumps(obj) + b"\n\n"
        for obj in events
        if isinstance(obj, dict) and "type" in obj
    )


class SseBridge:
    """Response filters written for server-sent events, applied to an AWS event stream: each
    event message becomes one SSE event (`event: <type>`, `data: <payload JSON>`; a `chunk`'s
    base64 `bytes` decoded to the model's event), passes through the filters in order, and
    whatever they give back is framed again. Other messages (exceptions) pass as they came,
    after the text the filters held back. Frames carry only string headers, as Bedrock's do."""

    __slots__ = ("_buffer", "_filters", "_pending")

    def __init__(self, filters: list[Any]) -> None:
        self._filters = filters
        self._buffer = EventStreamBuffer()
        self._pending = b""  # SSE text from the filters, not yet a whole event

    def feed(self, chunk: bytes) -> bytes:
        self._buffer.add_data(chunk)
        out: list[bytes] = []
        for message in self._buffer:
            headers = message.headers
            if headers.get(":message-type") != "event":
                out.append(self.flush())
                out.append(encode_message({k: str(v) for k, v in headers.items()}, message.payload))
                continue
            kind = str(headers.get(":event-type", ""))
            data = message.payload
            if kind == "chunk":
                try:
                    data = base64.b64decode(orjson.loads(data)["bytes"])
                except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
                    out.append(encode_message(dict(headers), message.payload))
                    continue
            sse = b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n"
            for response_filter in self._filters:
                sse = response_filter.feed(sse)
            out.append(self._frames(sse))
        return b"".join(out)

    def flush(self) -> bytes:
        tail = b""
        for response_filter in self._filters:
            tail = (
                response_filter.feed(tail) + response_filter.flush()
                if tail
                else response_filter.flush()
            )
        return self._frames(tail + (b"\n\n" if self._pending or tail.strip() else b""))

    def filter_body(self, body: bytes) -> bytes:
        for response_filter in self._filters:
            body = response_filter.filter_body(body)
        return body

    def _frames(self, sse: bytes) -> bytes:
        data = self._pending + sse
        end = data.rfind(b"\n\n")
        if end < 0:
            self._pending = data
            return b""
        self._pending = data[end + 2 :]
        frames = []
        for block in data[:end].split(b"\n\n"):
            kind, payload = "", []
            for line in block.split(b"\n"):
                if line.startswith(b"event:"):
                    kind = line[6:].strip().decode()
                elif line.startswith(b"data:"):
                    payload.append(line[5:].lstrip())
            if not payload:
                continue
            body = b"\n".join(payload)
            if kind == "chunk":
                frames.append(event("chunk", {"bytes": base64.b64encode(body).decode()}))
            else:
                frames.append(_event_raw(kind, body))
        return b"".join(frames)


def _event_raw(event_type: str, payload: bytes) -> bytes:
    return encode_message(
        {
            ":event-type": event_type,
            ":content-type": "application/json",
            ":message-type": "event",
        },
        payload,
    )
