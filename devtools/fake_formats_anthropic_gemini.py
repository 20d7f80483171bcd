"""Wire-format answers of the fake provider (devtools.fake_provider): Anthropic and Gemini."""

from __future__ import annotations

from typing import Any

import orjson

from devtools.fake_formats import last_user, sse_event, text_pieces, tokens_of, tool_name

# --- Anthropic messages --------------------------------------------------------------------


def anthropic_answer(body: dict[str, Any]) -> dict[str, Any]:
    text, after_tool = last_user(body.get("messages"))
    tool = None if after_tool else tool_name(body.get("tools"), "anthropic")
    answer = f"Echo: {text}"
    if tool:
        content: list[dict[str, Any]] = [
            {"type": "tool_use", "id": "toolu_fake1", "name": tool, "input": {"echo": text}}
        ]
        stop = "tool_use"
    else:
        content, stop = [{"type": "text", "text": answer}], "end_turn"
    return {
        "id": "msg_fake1",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", ""),
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {
            "input_tokens": tokens_of(body.get("messages")),
            "output_tokens": max(1, len(answer) // 4),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


def anthropic_stream(body: dict[str, Any]) -> list[bytes]:
    full = anthropic_answer(body)
    usage = full["usage"]
    start = {**full, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    events = [sse_event({"type": "message_start", "message": start}, "message_start")]
    block = full["content"][0]
    if block["type"] == "tool_use":
        events.append(
            sse_event(
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {**block, "input": {}},
                },
                "content_block_start",
            )
        )
        events.append(
            sse_event(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {
                        "type": "input_json_delta",
                        "partial_json": orjson.dumps(block["input"]).decode(),
                    },
                },
                "content_block_delta",
            )
        )
    else:
        events.append(
            sse_event(
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
                "content_block_start",
            )
        )
        events.append(sse_event({"type": "ping"}, "ping"))
        events += [
            sse_event(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": p},
                },
                "content_block_delta",
            )
            for p in text_pieces(block["text"])
        ]
    events.append(sse_event({"type": "content_block_stop", "index": 0}, "content_block_stop"))
    events.append(
        sse_event(
            {
                "type": "message_delta",
                "delta": {"stop_reason": full["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": usage["output_tokens"]},
            },
            "message_delta",
        )
    )
    events.append(sse_event({"type": "message_stop"}, "message_stop"))
    return events


def anthropic_error(status: int, message: str) -> dict[str, Any]:
    kind = {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        413: "request_too_large",
        429: "rate_limit_error",
        529: "overloaded_error",
    }.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_fake"}


# --- Gemini ----------------------------------------------------------------------------------


def gemini_answer(body: dict[str, Any], model: str) -> dict[str, Any]:
    text, after_tool = last_user(body.get("contents"))
    tool = None if after_tool else tool_name(body.get("tools"), "gemini")
    answer = f"Echo: {text}"
    parts: list[dict[str, Any]] = (
        [{"functionCall": {"name": tool, "args": {"echo": text}}}] if tool else [{"text": answer}]
    )
    p, c = tokens_of(body.get("contents")), max(1, len(answer) // 4)
    return {
        "candidates": [
            {"content": {"parts": parts, "role": "model"}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": {
            "promptTokenCount": p,
            "candidatesTokenCount": c,
            "totalTokenCount": p + c,
        },
        "modelVersion": model,
        "responseId": "fake-response-1",
    }


def gemini_stream(body: dict[str, Any], model: str) -> list[bytes]:
    full = gemini_answer(body, model)
    part = full["candidates"][0]["content"]["parts"][0]
    if "text" not in part:
        return [sse_event(full)]
    usage = full["usageMetadata"]
    pieces = text_pieces(part["text"])
    events = []
    for n, piece in enumerate(pieces):
        last = n == len(pieces) - 1
        candidate: dict[str, Any] = {
            "content": {"parts": [{"text": piece}], "role": "model"},
            "index": 0,
        }
        if last:
            candidate["finishReason"] = "STOP"
        events.append(
            sse_event(
                {
                    "candidates": [candidate],
                    "usageMetadata": usage
                    if last
                    else {
                        "promptTokenCount": usage["promptTokenCount"],
                        "totalTokenCount": usage["promptTokenCount"],
                    },
                    "modelVersion": model,
                    "responseId": "fake-response-1",
                }
            )
        )
    return events


def gemini_error(status: int, message: str) -> dict[str, Any]:
    state = {
        400: "INVALID_ARGUMENT",
        401: "UNAUTHENTICATED",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
        429: "RESOURCE_EXHAUSTED",
        500: "INTERNAL",
        503: "UNAVAILABLE",
    }.get(status, "INTERNAL")
    return {"error": {"code": status, "message": message, "status": state}}
