"""Anthropic wire format: messages, count_tokens, models."""

from __future__ import annotations

from typing import Any

import orjson

from pricing.table import Usage
from pricing.usage import token_count

PROVIDER = "anthropic"
SECRET_NAME = "ANTHROPIC_API_KEY"

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    424: "invalid_request_error",
    429: "rate_limit_error",
    501: "not_found_error",
    502: "api_error",
    504: "timeout_error",
}


def auth_header(secret: str) -> tuple[str, str]:
    return ("x-api-key", secret)


def error_body(status: int, message: str) -> bytes:
    """Anthropic's `{"type": "error", "error": {"type", "message"}}`."""
    kind = _TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return orjson.dumps({"type": "error", "error": {"type": kind, "message": message}})


def stream_error_event(endpoint: str, message: str) -> bytes:
    """Anthropic's mid-stream `event: error` (what its API sends on an overload mid-stream)."""
    return b"event: error\ndata: " + error_body(502, message) + b"\n\n"


def prepare_body(endpoint: str, body: dict[str, Any], *, stream: bool) -> bool:
    """Nothing to add: message_start and message_delta always carry usage."""
    return False


def _or(value: int | None, previous: int) -> int:
    return previous if value is None else value


def usage_from_obj(usage: Any, current: Usage | None = None) -> Usage | None:
    """Merge an Anthropic usage object into `current`.

    Anthropic's input_tokens counts only the uncached input: the total input is input_tokens +
    cache_read_input_tokens + cache_creation_input_tokens (pricing.table.Usage). In a stream,
    message_start carries input and cache counts and message_delta the cumulative
    output_tokens (and, on newer API versions, the input counts again), so fields present in a
    later event replace earlier ones.
    """
    if not isinstance(usage, dict):
        return current
    base = current or Usage()
    uncached = base.input_tokens - base.cache_read_tokens - base.cache_write_tokens
    cache_read, cache_write = base.cache_read_tokens, base.cache_write_tokens
    output = base.output_tokens
    counts = {
        name: token_count(usage.get(name))
        for name in (
            "input_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
            "output_tokens",
        )
    }
    uncached = _or(counts["input_tokens"], uncached)
    cache_read = _or(counts["cache_read_input_tokens"], cache_read)
    cache_write = _or(counts["cache_creation_input_tokens"], cache_write)
    output = _or(counts["output_tokens"], output)
    return Usage(
        input_tokens=uncached + cache_read + cache_write,
        output_tokens=output,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        reasoning_tokens=base.reasoning_tokens,
    )


def usage_from_body(endpoint: str, obj: Any) -> Usage | None:
    if not isinstance(obj, dict):
        return None
    return usage_from_obj(obj.get("usage"))


def usage_from_event(endpoint: str, obj: Any, current: Usage | None) -> Usage | None:
    if not isinstance(obj, dict):
        return current
    kind = obj.get("type")
    if kind == "message_start" and isinstance(obj.get("message"), dict):
        return usage_from_obj(obj["message"].get("usage"), current)
    if kind == "message_delta":
        return usage_from_obj(obj.get("usage"), current)
    return current
