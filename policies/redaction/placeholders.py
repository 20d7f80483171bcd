"""Deterministic placeholders: `[REDACTED:<TYPE>_<8-char tag>]`.

The tag is HMAC-SHA256(workspace key, TYPE + NUL + value), first 8 hex characters. The
workspace key is HMAC(GATEWAY_REDACTION_KEY or SECRET_KEY, "redaction:" + workspace id), so:
- the same value gives the same placeholder in every request of a workspace: a conversation's
  earlier turns are forwarded byte-identically and the provider's prompt cache keeps hitting;
- another workspace (or another deployment) gets other tags, and a tag cannot be reversed or
  checked against a guessed value without the server key.
32 bits of tag: two different values of one type in one request collide with probability
~n²/2³³; the first one seen keeps the placeholder and the second is restored as the first.
The mapping placeholder → value lives only in the request's memory (`Redaction`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import Counter
from functools import lru_cache

from django.conf import settings

PLACEHOLDER_RE = re.compile(r"\[REDACTED:([A-Z0-9_]{1,64})_([0-9a-f]{8})\]")


@lru_cache(maxsize=4096)
def workspace_key(workspace_id: int) -> bytes:
    root = (getattr(settings, "GATEWAY_REDACTION_KEY", "") or settings.SECRET_KEY).encode()
    return hmac.new(root, f"redaction:{workspace_id}".encode(), hashlib.sha256).digest()


def make_placeholder(key: bytes, type_: str, value: str) -> str:
    digest = hmac.digest(key, f"{type_}\0{value}".encode(), "sha256")
    return f"[REDACTED:{type_}_{digest[:4].hex()}]"


class Redaction:
    """One request's replacements: the placeholder → value mapping and counts per type."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.mapping: dict[str, str] = {}
        self.counts: Counter[str] = Counter()

    def placeholders(
        self, text: str, detections: tuple[tuple[int, int, str], ...]
    ) -> tuple[str, ...]:
        """The placeholder of each (start, end, type) span of `text`."""
        key = self.key
        return tuple(
            make_placeholder(key, type_, text[start:end]) for start, end, type_ in detections
        )

    def apply(
        self,
        text: str,
        detections: tuple[tuple[int, int, str], ...],
        placeholders: tuple[str, ...] | None = None,
    ) -> str:
        """`text` with each (start, end, type) span replaced by its placeholder (`placeholders`:
        the ones `placeholders()` made for this text and these spans before, kept by the scan
        cache)."""
        if not detections:
            return text
        if placeholders is None:
            placeholders = self.placeholders(text, detections)
        parts: list[str] = []
        cursor = 0
        mapping, counts = self.mapping, self.counts
        for (start, end, type_), placeholder in zip(detections, placeholders, strict=True):
            mapping.setdefault(placeholder, text[start:end])
            counts[type_] += 1
            parts.append(text[cursor:start])
            parts.append(placeholder)
            cursor = end
        parts.append(text[cursor:])
        return "".join(parts)

    @property
    def longest(self) -> int:
        return max((len(p) for p in self.mapping), default=0)
