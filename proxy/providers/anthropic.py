"""Anthropic wire format: messages, count_tokens, models."""

from __future__ import annotations

from typing import Any

import orjson

from pricing.table import Usage

PROVIDER = "anthropic"
SECRET_NAME = "ANTHROPIC_API_KEY"

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
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


def prepare_body(endpoint: str, body: dict[str, Any], *, stream: bool) -> bool:
    """Nothing to add: message_start and message_delta always carry usage."""
    return False


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def usage_from_obj(usage: Any, current: Usage | None = None) -> Usage | None:
    """Merge an Anthropic usage object into `current`.

    input_tokens already excludes cache reads and writes. In a stream, message_start carries
    input and cache counts and message_delta the cumulative output_tokens (and, on newer API
    versions, the input counts again), so fields present in a later event replace earlier ones.
    """
    if not isinstance(usage, dict):
        return current
    result = (
        Usage()
        if current is None
        else Usage(
            current.input_tokens,
            current.output_tokens,
            current.cache_read_tokens,
            current.cache_write_tokens,
            current.reasoning_tokens,
        )
    )
    if isinstance(usage.get("input_tokens"), int):
        result.input_tokens = usage["input_tokens"]
    if isinstance(usage.get("output_tokens"), int):
        result.output_tokens = usage["output_tokens"]
    if isinstance(usage.get("cache_read_input_tokens"), int):
        result.cache_read_tokens = usage["cache_read_input_tokens"]
    if isinstance(usage.get("cache_creation_input_tokens"), int):
        result.cache_write_tokens = usage["cache_creation_input_tokens"]
    return result


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
