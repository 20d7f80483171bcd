"""Rewrite a request body: every text slot the provider reads gets its detections replaced.

Pure of I/O; called in a worker thread by the gate. Deterministic: the same body, policy and
workspace always give the same output (placeholders are keyed HMACs, JSON strings are
re-encoded compactly), so a resent conversation is forwarded byte-identically.
"""

from __future__ import annotations

from typing import Any

from policies.redaction.cache import scan_cache
from policies.redaction.engine import ScanConfig, scanner
from policies.redaction.placeholders import Redaction
from policies.redaction.walkers import collect_slots, flatten, write_back


def redact_body(
    body: Any,
    *,
    dialect: str,
    endpoint: str,
    scan_system: bool,
    config: ScanConfig,
    redaction: Redaction,
    deadline: float | None = None,
) -> bool:
    """Rewrite `body` in place; True when anything was replaced. Raises ScanTimeout."""
    slots = collect_slots(body, dialect, endpoint, scan_system=scan_system)
    if not slots:
        return False
    leaves = flatten(slots)
    texts = [leaf.container[leaf.key] for leaf in leaves]
    cache = scan_cache()
    workspace = redaction.key
    changed = False
    for leaf, text, (key, spans) in zip(
        leaves, texts, scanner().scan_keyed(texts, config, deadline), strict=True
    ):
        if spans:
            # A resent block's placeholders come from the cache with its spans.
            placeholders = cache.placeholders(key, workspace)
            if placeholders is None:
                placeholders = redaction.placeholders(text, spans)
                cache.put_placeholders(key, workspace, placeholders)
            leaf.container[leaf.key] = redaction.apply(text, spans, placeholders)
            leaf.changed = True
            changed = True
    if changed:
        write_back(slots)
    return changed
