"""OpenAI wire format: chat completions, Responses API, embeddings, models."""

from __future__ import annotations

from typing import Any

import orjson

from pricing.table import Usage
from pricing.usage import token_count

PROVIDER = "openai"
SECRET_NAME = "OPENAI_API_KEY"

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout",
    413: "invalid_request_error",
    424: "failed_dependency",
    429: "rate_limit_error",
    501: "not_implemented",
    502: "api_error",
    504: "timeout",
}
_CODES = {
    401: "invalid_api_key",
    402: "spend_limit_exceeded",
    413: "request_too_large",
    501: "path_not_allowed",
}


def auth_header(secret: str) -> tuple[str, str]:
    return ("Authorization", f"Bearer {secret}")


def error_body(status: int, message: str) -> bytes:
    """OpenAI's `{"error": {"message", "type", "param", "code"}}`."""
    return orjson.dumps(
        {
            "error": {
                "message": message,
                "type": _TYPES.get(
                    status, "api_error" if status >= 500 else "invalid_request_error"
                ),
                "param": None,
                "code": _CODES.get(status),
            }
        }
    )


def stream_error_event(endpoint: str, message: str) -> bytes:
    """The SSE event that ends a stream the upstream broke: a chat chunk holding an `error`
    object (what OpenAI sends mid-stream), or a Responses `error` event that also carries the
    `error` object, so the official SDKs raise APIError either way."""
    error = {"message": message, "type": "api_error", "param": None, "code": "upstream_error"}
    if endpoint == "Responses":
        event = {"type": "error", "code": "upstream_error", "message": message, "param": None}
        return b"event: error\ndata: " + orjson.dumps({**event, "error": error}) + b"\n\n"
    return b"data: " + orjson.dumps({"error": error}) + b"\n\n"


def prepare_body(endpoint: str, body: dict[str, Any], *, stream: bool) -> bool:
    """Ask for usage on chat-completion streams; True when `body` was changed.

    The extra final chunk (empty `choices`, with `usage`) then reaches the client too: the
    official SDKs and agents ignore it, and stripping it would mean rewriting the stream.
    """
    if endpoint != "ChatCompletions" or not stream:
        return False
    options = body.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage") is True:
        return False
    body["stream_options"] = {
        **(options if isinstance(options, dict) else {}),
        "include_usage": True,
    }
    return True


def _int(value: Any) -> int:
    """A count as sent, 0 when it is not a number (pricing.usage validates the rest)."""
    return token_count(value) or 0


def _detail(details: Any, name: str) -> int:
    return _int(details.get(name)) if isinstance(details, dict) else 0


def usage_from_obj(usage: Any) -> Usage | None:
    """Normalise a chat (`prompt_tokens`) or Responses (`input_tokens`) usage object.

    OpenAI's prompt/input tokens already include the cached ones (pricing.table.Usage), so
    they are taken whole, with `cached_tokens` as the cache-read breakdown; audio and reasoning
    tokens are breakdowns of input and output."""
    if not isinstance(usage, dict):
        return None
    if "prompt_tokens" in usage:
        total_in = _int(usage.get("prompt_tokens"))
        output = _int(usage.get("completion_tokens"))
        in_details = usage.get("prompt_tokens_details")
        out_details = usage.get("completion_tokens_details")
    elif "input_tokens" in usage:
        total_in = _int(usage.get("input_tokens"))
        output = _int(usage.get("output_tokens"))
        in_details = usage.get("input_tokens_details")
        out_details = usage.get("output_tokens_details")
    else:
        return None
    return Usage(
        input_tokens=total_in,
        output_tokens=output,
        cache_read_tokens=_detail(in_details, "cached_tokens"),
        reasoning_tokens=_detail(out_details, "reasoning_tokens"),
        audio_input_tokens=_detail(in_details, "audio_tokens"),
        audio_output_tokens=_detail(out_details, "audio_tokens"),
    )


def usage_from_body(endpoint: str, obj: Any) -> Usage | None:
    """Usage of a whole JSON response."""
    if not isinstance(obj, dict):
        return None
    return usage_from_obj(obj.get("usage"))


def usage_from_event(endpoint: str, obj: Any, current: Usage | None) -> Usage | None:
    """Usage after one SSE event: the chat usage chunk, or `response.completed` (Responses)."""
    if not isinstance(obj, dict):
        return current
    usage = obj.get("usage")
    if usage is None and isinstance(obj.get("response"), dict):
        usage = obj["response"].get("usage")
    parsed = usage_from_obj(usage)
    return parsed if parsed is not None else current
