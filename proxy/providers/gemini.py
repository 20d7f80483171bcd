"""Gemini wire format: generateContent, streamGenerateContent, countTokens, models."""

from __future__ import annotations

from typing import Any

import orjson

from pricing.table import Usage

PROVIDER = "gemini"
SECRET_NAME = "GOOGLE_API_KEY"

_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    402: "RESOURCE_EXHAUSTED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    413: "INVALID_ARGUMENT",
    424: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def auth_header(secret: str) -> tuple[str, str]:
    return ("x-goog-api-key", secret)


def error_body(status: int, message: str) -> bytes:
    """Google's `{"error": {"code", "message", "status"}}`."""
    state = _STATUSES.get(status, "INTERNAL" if status >= 500 else "INVALID_ARGUMENT")
    return orjson.dumps({"error": {"code": status, "message": message, "status": state}})


def prepare_body(endpoint: str, body: dict[str, Any], *, stream: bool) -> bool:
    """Nothing to add: every response chunk carries usageMetadata."""
    return False


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def usage_from_obj(meta: Any) -> Usage | None:
    """Normalise usageMetadata. promptTokenCount includes cachedContentTokenCount (subtracted);
    thoughtsTokenCount is billed as output, apart from candidatesTokenCount; tool-use prompt
    tokens are billed as input."""
    if not isinstance(meta, dict):
        return None
    cached = _int(meta.get("cachedContentTokenCount"))
    prompt = _int(meta.get("promptTokenCount")) + _int(meta.get("toolUsePromptTokenCount"))
    thoughts = _int(meta.get("thoughtsTokenCount"))
    return Usage(
        input_tokens=max(prompt - cached, 0),
        output_tokens=_int(meta.get("candidatesTokenCount")) + thoughts,
        cache_read_tokens=cached,
        reasoning_tokens=thoughts,
    )


def usage_from_body(endpoint: str, obj: Any) -> Usage | None:
    """A JSON response, or the JSON array a non-SSE streamGenerateContent returns (its last
    element carries the final counts)."""
    if isinstance(obj, list):
        for item in reversed(obj):
            usage = usage_from_body(endpoint, item)
            if usage is not None:
                return usage
        return None
    if not isinstance(obj, dict):
        return None
    return usage_from_obj(obj.get("usageMetadata"))


def usage_from_event(endpoint: str, obj: Any, current: Usage | None) -> Usage | None:
    """Each streamed chunk carries running totals; the last one wins."""
    parsed = usage_from_body(endpoint, obj)
    return parsed if parsed is not None else current
