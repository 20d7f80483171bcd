"""Template tags of the roll-out app for other apps' pages (no Python import between them)."""

from __future__ import annotations

from typing import Any

from django import template

from rollout.views import AGENT_LABELS

register = template.Library()


@register.inclusion_tag("rollout/agent_downloads.html", takes_context=True)
def agent_downloads(context: Any, plaintext: str) -> dict[str, Any]:
    """Buttons that download each agent's files with the new key `plaintext` filled in (for the
    page that shows a key once: the key is posted back, never stored)."""
    return {
        "plaintext": plaintext,
        "agents": list(AGENT_LABELS.items()),
        "csrf_token": context.get("csrf_token"),
    }
