"""Call records as the proxy produces them, for tracing tests and benchmarks."""

from __future__ import annotations

import time
import uuid
from typing import Any

from hotpath.callrecord import CallRecord


def call_record(persona: Any = None, **overrides: Any) -> CallRecord:
    """A successful OpenAI chat call by `persona`'s key (or the ids in overrides)."""
    run_id = uuid.uuid4().hex
    started = time.time() - 1.0
    fields: dict[str, Any] = {
        "run_id": run_id,
        "trace_id": run_id,
        "started_at": started,
        "ended_at": started + 0.8,
        "first_token_at": started + 0.2,
        "name": "ChatCompletions",
        "dialect": "openai",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "path": "/openai/v1/chat/completions",
        "input_tokens": 120,
        "output_tokens": 30,
        "cache_read_tokens": 10,
        "cost_usd": 0.0000375,
        "user_agent": "OpenAI/Python 2.0",
        "request_metadata": {"x-gateway-tag": "demo"},
        "request_content": {"messages": [{"role": "user", "content": "hello"}]},
        "response_content": {"choices": [{"message": {"content": "hi"}}]},
    }
    if persona is not None:
        fields.update(
            organization_id=persona.organization.pk,
            workspace_id=persona.workspace.pk,
            key_id=persona.key.pk,
            key_prefix=persona.key.display_prefix,
            user_id=persona.user.pk,
        )
    fields.update(overrides)
    return CallRecord(**fields)
