"""The per-call principal the proxy resolved from a gateway key (STYLE 2.4)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Who is calling, resolved from the in-process auth table; never holds a secret.

    Gates (spend, redaction) and the recorder read it; it is immutable so a gate cannot change
    who the call belongs to.
    """

    organization_id: int
    workspace_id: int
    key_id: int
    key_prefix: str  # gw_sk_<lookup_id>: safe to log and trace, never the key
    key_kind: str  # "service" | "personal"
    user_id: int | None
    permissions: frozenset[str]
    trace_content: bool
    organization_slug: str = ""
    workspace_slug: str = ""
