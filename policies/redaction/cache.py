"""Per-block scan cache: coding agents resend the whole conversation every turn.

Key: keyed BLAKE2b of (policy fingerprint, text) under the redaction root key, so the cache
holds no text and a key cannot be checked against a guessed text without the server key.
Value: the detected spans as (start, end, type) tuples; never the values themselves. On a hit
the values are re-read from the request's own text at those spans.

Beside the spans, an entry keeps the block's placeholders per workspace once they have been
made (`placeholders` / `put_placeholders`): on a resent conversation, computing one HMAC per
detected value of every earlier turn was most of the work left once the scans were cached.
A placeholder is what the provider receives anyway (a keyed tag, not reversible without the
server key), so the cache still holds no value and no text.

In-process LRU bounded by entry count (settings.GATEWAY_REDACTION_CACHE_ENTRIES); a lock makes
it safe from the scanner's worker threads. Per process by design: a block's first sighting in a
process costs one scan (~1 ms per KB), which a shared cache would trade for a network hop.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from functools import lru_cache

from django.conf import settings

Spans = tuple[tuple[int, int, str], ...]
Placeholders = tuple[str, ...]
# Workspaces whose placeholders one entry keeps (a block resent under more is rare: the
# placeholders of the others are made again, which is only the HMACs).
_WORKSPACES_PER_ENTRY = 8


@lru_cache(maxsize=1)
def _cache_key_secret() -> bytes:
    root = (getattr(settings, "GATEWAY_REDACTION_KEY", "") or settings.SECRET_KEY).encode()
    return hashlib.blake2b(b"redaction-cache:" + root, digest_size=32).digest()


def block_key(fingerprint: str, text: str) -> bytes:
    h = hashlib.blake2b(key=_cache_key_secret(), digest_size=20)
    h.update(fingerprint.encode())
    h.update(b"\0")
    h.update(text.encode("utf-8", "surrogatepass"))
    return h.digest()


class _Entry:
    __slots__ = ("placeholders", "spans")

    def __init__(self, spans: Spans) -> None:
        self.spans = spans
        self.placeholders: dict[bytes, Placeholders] = {}  # workspace key -> one per span

    def __repr__(self) -> str:
        return f"_Entry({self.spans!r}, {list(self.placeholders.values())!r})"


class ScanCache:
    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._data: OrderedDict[bytes, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: bytes) -> Spans | None:
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return entry.spans

    def put(self, key: bytes, spans: Spans) -> None:
        if self.max_entries <= 0:
            return
        with self._lock:
            self._data[key] = _Entry(spans)
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def placeholders(self, key: bytes, workspace_key: bytes) -> Placeholders | None:
        """The placeholders made for this block's spans under this workspace key, if any."""
        entry = self._data.get(key)  # a dict read: atomic, no ordering to update
        return None if entry is None else entry.placeholders.get(workspace_key)

    def put_placeholders(self, key: bytes, workspace_key: bytes, made: Placeholders) -> None:
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return
            if len(entry.placeholders) >= _WORKSPACES_PER_ENTRY:
                entry.placeholders.clear()
            entry.placeholders[workspace_key] = made

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._data)


@lru_cache(maxsize=1)
def scan_cache() -> ScanCache:
    """The process's cache (created on first use, sized from settings)."""
    return ScanCache(getattr(settings, "GATEWAY_REDACTION_CACHE_ENTRIES", 20000))
