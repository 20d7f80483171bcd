"""Helpers shared by the rate-limit tests."""

from __future__ import annotations

from typing import Any

from policies.ratelimit.services import rate_limit_upsert


def rate_policy(
    persona: Any,
    name: str,
    scope: str,
    limits: dict[str, tuple[int | None, int | None]],
    **kw: Any,
) -> Any:
    """A rate-limit policy of persona's organization: limits = {window: (requests, tokens)}."""
    return rate_limit_upsert(
        organization=persona.organization, name=name, scope=scope, limits=limits, **kw
    )
