"""Put the original values back into what the caller receives (a proxy response filter).

`RestoreFilter(mapping)` implements the proxy's filter seam:
- `filter_body(body)`: a whole JSON response. Every string is visited; placeholders of this
  request become their values. In strings that are themselves JSON text (tool-call `arguments`)
  the value is JSON-escaped once more, so the arguments still parse. A body without any
  placeholder is returned as the same bytes; a body that is not JSON gets a plain replacement.
- `feed(chunk)` / `flush()`: an SSE stream, event by event. Each `data:` JSON is visited the
  same way. A placeholder split across two events is reassembled: the tail of a text that could
  still become a placeholder (at most the longest placeholder of this request, minus one
  character) is held back and prepended to the next text of the same channel (same path, same
  choice/block/output index). When the next event of another kind arrives, the held text is
  released first as a copy of its channel's last event, so nothing is lost or reordered.
  Events without a placeholder or held text pass through as the very same bytes.
  A stream that is a JSON array (Gemini without alt=sse) is handled element by element the
  same way (a released text becomes an extra element).
Placeholders that are not in this request's mapping (a model inventing one) are left as is.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from policies.redaction.placeholders import PLACEHOLDER_RE

_PREFIX = "[REDACTED:"
_PARTIAL_TAIL = re.compile(
    r"\[(?:R(?:E(?:D(?:A(?:C(?:T(?:E(?:D(?::[A-Z0-9_]*(?:_[0-9a-f]{0,8})?)?)?)?)?)?)?)?)?)?$"
)
_JSON_TEXT_KEYS = frozenset({"arguments", "partial_json"})
# Anthropic thinking is signed as the provider wrote it: placeholders stay (see walkers).
_SIGNED_KEYS = frozenset({"thinking", "signature"})
_INDEX_KEYS = ("index", "output_index", "content_index", "summary_index", "item_id")


def _json_escape(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)[1:-1]


class RestoreFilter:
    def __init__(self, mapping: dict[str, str]) -> None:
        self.mapping = dict(mapping)
        self.max_hold = max((len(p) for p in self.mapping), default=1) - 1
        self._buffer = b""
        self._mode: str | None = None  # "sse" | "array", decided on the first bytes
        self._pending: dict[tuple[Any, ...], str] = {}
        self._templates: dict[tuple[Any, ...], tuple[list[bytes], Any, tuple[Any, ...], bool]] = {}

    # -- replacement ----------------------------------------------------------------------
    def _replace(self, text: str, *, json_text: bool) -> str:
        mapping = self.mapping

        def value(match: re.Match[str]) -> str:
            original = mapping.get(match.group(0))
            if original is None:
                return match.group(0)
            return _json_escape(original) if json_text else original

        return PLACEHOLDER_RE.sub(value, text)

    def _hold_split(self, text: str) -> tuple[str, str]:
        """(text to emit now, tail held back because it may be the start of a placeholder)."""
        start = text.rfind("[", max(0, len(text) - self.max_hold))
        if start == -1:
            return text, ""
        tail = text[start:]
        if _PARTIAL_TAIL.match(tail) and not PLACEHOLDER_RE.match(tail):
            return text[:start], tail
        return text, ""

    # -- whole bodies ---------------------------------------------------------------------
    def filter_body(self, body: bytes) -> bytes:
        if _PREFIX.encode() not in body:
            return body
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            return self._replace(body.decode("utf-8", "replace"), json_text=False).encode()
        changed = self._visit(document, (), None, stream=False, event_kind="")
        return orjson.dumps(document) if changed else body

    def _visit(
        self,
        node: Any,
        path: tuple[Any, ...],
        strings: list[Any] | None,
        *,
        stream: bool,
        event_kind: str,
    ) -> bool:
        """Replace placeholders in every string under `node`; collect stream channels."""
        changed = False
        if isinstance(node, dict):
            marks = tuple(
                node[k] for k in _INDEX_KEYS if isinstance(node.get(k), int | str) and k in node
            )
            for key, item in node.items():
                sub = (*path, *marks, key)
                if key in _SIGNED_KEYS:
                    continue
                if isinstance(item, str):
                    json_text = key in _JSON_TEXT_KEYS or (
                        key == "delta" and "arguments" in event_kind
                    )
                    if stream and strings is not None:
                        strings.append((node, key, sub, json_text))
                    elif _PREFIX in item:
                        new = self._replace(item, json_text=json_text)
                        if new != item:
                            node[key] = new
                            changed = True
                elif isinstance(item, dict | list):
                    changed |= self._visit(item, sub, strings, stream=stream, event_kind=event_kind)
        elif isinstance(node, list):
            for index, item in enumerate(node):
                if isinstance(item, str):
                    if stream and strings is not None:
                        strings.append((node, index, (*path, index), False))
                    elif _PREFIX in item:
                        new = self._replace(item, json_text=False)
                        if new != item:
                            node[index] = new
                            changed = True
                elif isinstance(item, dict | list):
                    changed |= self._visit(
                        item, (*path, index), strings, stream=stream, event_kind=event_kind
                    )
        return changed

    # -- streams --------------------------------------------------------------------------
    def feed(self, chunk: bytes) -> bytes:
        self._buffer += chunk
        if self._mode is None:
            head = self._buffer.lstrip()
            if not head:
                return b""
            self._mode = "array" if head[:1] == b"[" else "sse"
        if self._mode == "array":
            return self._feed_array()
        out: list[bytes] = []
        while True:
            end, sep_len = _event_end(self._buffer)
            if end == -1:
                break
            event = self._buffer[: end + sep_len]
            self._buffer = self._buffer[end + sep_len :]
            out.append(self._event(event))
        return b"".join(out)

    def flush(self) -> bytes:
        rest, self._buffer = self._buffer, b""
        released = [self._release(channel) for channel in list(self._pending)]
        if self._mode == "array":
            parts = [p for r in released for p in _data_parts(r)]
            return (b"," + b",".join(parts) if parts else b"") + rest
        if rest:
            released.append(self._event(rest))
        return b"".join(released)

    def _feed_array(self) -> bytes:
        """A JSON array streamed element by element (Gemini without alt=sse): each complete
        element is handled like an SSE event; released text becomes an extra element."""
        out: list[bytes] = []
        while True:
            found = _array_element(self._buffer)
            if found is None:
                return b"".join(out)
            start, end = found
            head, element = self._buffer[:start], self._buffer[start:end]
            self._buffer = self._buffer[end:]
            try:
                pseudo = b"data: " + orjson.dumps(orjson.loads(element)) + b"\n\n"
            except orjson.JSONDecodeError:
                out.append(head + element)
                continue
            processed = self._event(pseudo)
            if processed == pseudo:
                out.append(head + element)
            else:
                out.append(head + b",".join(_data_parts(processed)))

    def _event(self, event: bytes) -> bytes:
        lines = event.split(b"\n")
        data_index = next((i for i, line in enumerate(lines) if line.startswith(b"data:")), None)
        if data_index is None:
            return event
        payload = lines[data_index][5:].strip()
        if not self._pending and _PREFIX.encode() not in payload and b"[" not in payload:
            return event
        try:
            document = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return b"".join(self._release(c) for c in list(self._pending)) + event
        kind = str(document.get("type", "")) if isinstance(document, dict) else ""
        strings: list[Any] = []
        self._visit(document, (), strings, stream=True, event_kind=kind)
        touched = {channel for _n, _k, channel, _j in strings}
        prefix = (
            b""
            if kind == "ping"
            else b"".join(self._release(c) for c in list(self._pending) if c not in touched)
        )
        changed = False
        for node, key, channel, json_text in strings:
            original = node[key]
            text = self._pending.pop(channel, "") + original
            if _PREFIX[0] not in text:
                continue
            emit, held = self._hold_split(self._replace(text, json_text=json_text))
            if held:
                self._pending[channel] = held
                self._templates[channel] = (lines, document, (node, key), json_text)
            if emit != original:
                node[key] = emit
                changed = True
        if not changed:
            return prefix + event
        lines = list(lines)
        lines[data_index] = _data_line(lines[data_index], document)
        return prefix + b"\n".join(lines)

    def _release(self, channel: tuple[Any, ...]) -> bytes:
        """Emit held text as a copy of its channel's last event (it was not a placeholder)."""
        held = self._pending.pop(channel, "")
        template = self._templates.pop(channel, None)
        if not held or template is None:
            return b""
        lines, document, (node, key), _json_text = template
        node[key] = held
        data_index = next(i for i, line in enumerate(lines) if line.startswith(b"data:"))
        out = list(lines)
        out[data_index] = _data_line(lines[data_index], document)
        return b"\n".join(out)


def _data_line(original: bytes, document: Any) -> bytes:
    return b"data: " + orjson.dumps(document) + (b"\r" if original.endswith(b"\r") else b"")


def _data_parts(events: bytes) -> list[bytes]:
    """The JSON documents of a run of `data: ...` events."""
    return [line[6:].rstrip(b"\r") for line in events.split(b"\n") if line.startswith(b"data: ")]


def _array_element(buffer: bytes) -> tuple[int, int] | None:
    """(start, end) of the first complete object after `[`/`,`/whitespace, or None."""
    index, size = 0, len(buffer)
    while index < size and buffer[index] in b" \t\r\n,[":
        index += 1
    if index >= size or buffer[index] != ord("{"):
        return None
    depth, in_string, escaped = 0, False, False
    for position in range(index, size):
        char = buffer[position]
        if in_string:
            if escaped:
                escaped = False
            elif char == 0x5C:  # backslash
                escaped = True
            elif char == 0x22:
                in_string = False
        elif char == 0x22:
            in_string = True
        elif char in (0x7B, 0x5B):
            depth += 1
        elif char in (0x7D, 0x5D):
            depth -= 1
            if depth == 0:
                return index, position + 1
    return None


def _event_end(buffer: bytes) -> tuple[int, int]:
    """Index and length of the first event separator (blank line) in `buffer`, or (-1, 0)."""
    candidates = [(buffer.find(sep), len(sep)) for sep in (b"\n\n", b"\r\n\r\n")]
    found = [(i, n) for i, n in candidates if i != -1]
    return min(found) if found else (-1, 0)
