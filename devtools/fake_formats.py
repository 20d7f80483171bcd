"""Wire-format answers of the fake provider (devtools.fake_provider): shared helpers and OpenAI.

Anthropic and Gemini live in devtools.fake_formats_anthropic_gemini.
"""

from __future__ import annotations

import time
from typing import Any

import orjson


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and "text" in part
        )
    return ""


def last_user(messages: Any, role_key: str = "role") -> tuple[str, bool]:
    """(text of the last user message, whether the last message is a tool result)."""
    if isinstance(messages, str):
        return messages, False
    if not isinstance(messages, list) or not messages:
        return "", False
    last = messages[-1]
    tool_result = isinstance(last, dict) and (
        last.get("role") == "tool"
        or last.get("type") == "function_call_output"
        or any(
            isinstance(p, dict)
            and (p.get("type") == "tool_result" or "functionResponse" in p or "toolResult" in p)
            for p in (last.get("content") or last.get("parts") or [])
            if isinstance(last.get("content") or last.get("parts"), list)
        )
    )
    for message in reversed(messages):
        if isinstance(message, dict) and message.get(role_key, "user") == "user":
            text = _text_of(message.get("content")) or _text_of(message.get("parts"))
            if text:
                return text, tool_result
    return "", tool_result


def tokens_of(value: Any) -> int:
    return max(1, len(orjson.dumps(value)) // 4)


def text_pieces(text: str) -> list[str]:
    size = max(1, len(text) // 3)
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def sse_event(data: dict[str, Any], event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + orjson.dumps(data) + b"\n\n"


def tool_name(tools: Any, dialect: str) -> str | None:
    if not isinstance(tools, list) or not tools:
        return None
    tool = tools[0]
    if dialect == "gemini":
        decls = tool.get("functionDeclarations") or tool.get("function_declarations") or []
        return decls[0].get("name") if decls else None
    if dialect == "chat":
        return (tool.get("function") or {}).get("name")
    return tool.get("name")


# --- OpenAI chat completions ---------------------------------------------------------------


def _chat_usage(body: dict[str, Any], text: str) -> dict[str, Any]:
    p, c = tokens_of(body.get("messages")), max(1, len(text) // 4)
    return {
        "prompt_tokens": p,
        "completion_tokens": c,
        "total_tokens": p + c,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def openai_answer(body: dict[str, Any]) -> dict[str, Any]:
    text, after_tool = last_user(body.get("messages"))
    tool = None if after_tool else tool_name(body.get("tools"), "chat")
    answer = f"Echo: {text}"
    if tool:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None,
            "refusal": None,
            "tool_calls": [
                {
                    "id": "call_fake1",
                    "type": "function",
                    "function": {"name": tool, "arguments": orjson.dumps({"echo": text}).decode()},
                }
            ],
        }
        finish = "tool_calls"
    else:
        message, finish = {"role": "assistant", "content": answer, "refusal": None}, "stop"
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", ""),
        "system_fingerprint": "fp_fake",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": _chat_usage(body, answer),
    }


def openai_stream(body: dict[str, Any]) -> list[bytes]:
    full = openai_answer(body)
    message = full["choices"][0]["message"]
    include_usage = (body.get("stream_options") or {}).get("include_usage") is True
    base = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": full["created"],
        "model": full["model"],
        "system_fingerprint": "fp_fake",
    }
    if include_usage:
        base["usage"] = None

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return sse_event(
            {
                **base,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }
        )

    events = [chunk({"role": "assistant", "content": ""})]
    if message.get("tool_calls"):
        call = message["tool_calls"][0]
        events.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": call["id"],
                            "type": "function",
                            "function": {"name": call["function"]["name"], "arguments": ""},
                        }
                    ]
                }
            )
        )
        events.append(
            chunk(
                {
                    "tool_calls": [
                        {"index": 0, "function": {"arguments": call["function"]["arguments"]}}
                    ]
                }
            )
        )
    else:
        events += [chunk({"content": piece}) for piece in text_pieces(message["content"])]
    events.append(chunk({}, full["choices"][0]["finish_reason"]))
    if include_usage:
        events.append(sse_event({**base, "choices": [], "usage": full["usage"]}))
    return events


def openai_error(status: int, message: str) -> dict[str, Any]:
    kind = {
        400: "invalid_request_error",
        401: "invalid_request_error",
        403: "permission_error",
        404: "invalid_request_error",
        429: "rate_limit_exceeded",
    }.get(status, "server_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": str(status)}}


# --- OpenAI Responses API ------------------------------------------------------------------


def _responses_input_text(body: dict[str, Any]) -> tuple[str, bool]:
    return last_user(body.get("input"))


def responses_answer(body: dict[str, Any], *, status: str = "completed") -> dict[str, Any]:
    text, after_tool = _responses_input_text(body)
    tool = None if after_tool else tool_name(body.get("tools"), "responses")
    answer = f"Echo: {text}"
    if tool:
        output: list[dict[str, Any]] = [
            {
                "type": "function_call",
                "id": "fc_fake1",
                "call_id": "call_fake1",
                "name": tool,
                "arguments": orjson.dumps({"echo": text}).decode(),
                "status": "completed",
            }
        ]
    else:
        output = [
            {
                "type": "message",
                "id": "msg_fake1",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": answer, "annotations": []}],
            }
        ]
    p, c = tokens_of(body.get("input")), max(1, len(answer) // 4)
    return {
        "id": "resp_fake1",
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "model": body.get("model", ""),
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": body.get("tools") or [],
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "metadata": {},
        "temperature": 1.0,
        "top_p": 1.0,
        "text": {"format": {"type": "text"}},
        "usage": {
            "input_tokens": p,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": c,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": p + c,
        },
    }


def responses_stream(body: dict[str, Any]) -> list[bytes]:
    final = responses_answer(body)
    start = {**final, "status": "in_progress", "output": [], "usage": None}
    seq = iter(range(1000))

    def ev(kind: str, **data: Any) -> bytes:
        return sse_event({"type": kind, "sequence_number": next(seq), **data}, kind)

    events = [ev("response.created", response=start), ev("response.in_progress", response=start)]
    item = final["output"][0]
    if item["type"] == "function_call":
        events.append(
            ev(
                "response.output_item.added",
                output_index=0,
                item={**item, "arguments": "", "status": "in_progress"},
            )
        )
        events.append(
            ev(
                "response.function_call_arguments.delta",
                item_id=item["id"],
                output_index=0,
                delta=item["arguments"],
            )
        )
        events.append(
            ev(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=0,
                arguments=item["arguments"],
            )
        )
    else:
        text = item["content"][0]["text"]
        events.append(
            ev(
                "response.output_item.added",
                output_index=0,
                item={**item, "status": "in_progress", "content": []},
            )
        )
        part = {"type": "output_text", "text": "", "annotations": []}
        events.append(
            ev(
                "response.content_part.added",
                item_id=item["id"],
                output_index=0,
                content_index=0,
                part=part,
            )
        )
        events += [
            ev(
                "response.output_text.delta",
                item_id=item["id"],
                output_index=0,
                content_index=0,
                delta=p,
                logprobs=[],
            )
            for p in text_pieces(text)
        ]
        events.append(
            ev(
                "response.output_text.done",
                item_id=item["id"],
                output_index=0,
                content_index=0,
                text=text,
                logprobs=[],
            )
        )
        events.append(
            ev(
                "response.content_part.done",
                item_id=item["id"],
                output_index=0,
                content_index=0,
                part={**part, "text": text},
            )
        )
    events.append(ev("response.output_item.done", output_index=0, item=item))
    events.append(ev("response.completed", response=final))
    return events
