"""Rewrite a request body: every text slot the provider reads gets its detections replaced.

Pure of I/O; called in a worker thread by the gate. Deterministic: the same body, policy and
workspace always give the same output (placeholders are keyed HMACs, JSON strings are
re-encoded compactly), so a resent conversation is forwarded byte-identically.
"""

from __future__ import annotations

from typing import Any

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
    all_spans = scanner().scan_blocks(texts, config, deadline)
    changed = False
    for leaf, text, spans in zip(leaves, texts, all_spans, strict=True):
        if spans:
            leaf.container[leaf.key] = redaction.apply(text, spans)
            leaf.changed = True
            changed = True
    if changed:
        write_back(slots)
    return changed
