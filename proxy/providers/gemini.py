"""Gemini wire format: generateContent, streamGenerateContent, countTokens, models."""

from __future__ import annotations

from typing import Any

import orjson

from pricing.table import Usage
from pricing.usage import token_count

PROVIDER = "gemini"
SECRET_NAME = "GOOGLE_API_KEY"

_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    402: "RESOURCE_EXHAUSTED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
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


def stream_error_event(endpoint: str, message: str) -> bytes:
    """A chunk holding Google's error object (the google-genai SDK raises on it)."""
    return b"data: " + error_body(502, message) + b"\n\n"


def prepare_body(endpoint: str, body: dict[str, Any], *, stream: bool) -> bool:
    """Nothing to add: every response chunk carries usageMetadata."""
    return False


def _int(value: Any) -> int:
    """A count as sent, 0 when it is not a number (pricing.usage validates the rest)."""
    return token_count(value) or 0


def _audio(details: Any) -> int:
    """The AUDIO entry of a per-modality token list (promptTokensDetails, ...)."""
    if not isinstance(details, list):
        return 0
    return sum(
        _int(d.get("tokenCount"))
        for d in details
        if isinstance(d, dict) and d.get("modality") == "AUDIO"
    )


def usage_from_obj(meta: Any) -> Usage | None:
    """Normalise usageMetadata. promptTokenCount already includes cachedContentTokenCount (the
    cache-read breakdown); tool-use prompt tokens are billed as input; thoughtsTokenCount is
    billed as output, apart from candidatesTokenCount, and is the reasoning breakdown."""
    if not isinstance(meta, dict):
        return None
    thoughts = _int(meta.get("thoughtsTokenCount"))
    return Usage(
        input_tokens=_int(meta.get("promptTokenCount")) + _int(meta.get("toolUsePromptTokenCount")),
        output_tokens=_int(meta.get("candidatesTokenCount")) + thoughts,
        cache_read_tokens=_int(meta.get("cachedContentTokenCount")),
        reasoning_tokens=thoughts,
        audio_input_tokens=_audio(meta.get("promptTokensDetails"))
        + _audio(meta.get("toolUsePromptTokensDetails")),
        audio_output_tokens=_audio(meta.get("candidatesTokensDetails")),
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
