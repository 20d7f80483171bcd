"""The common form every translated call passes through (one module per API reads and writes it).

A caller's request is read into a `Request` by its API's module, written out by the provider's;
the provider's answer is read into a `Response` (or a stream of events) and written back in the
caller's API. Plain data, no I/O. Parts are small dicts, tagged by "type":

    {"type": "text", "text": str}
    {"type": "image", "url": str}                          an image by URL
    {"type": "image", "media_type": str, "data": str}      an image inline (base64)
    {"type": "tool_call", "id": str, "name": str, "arguments": str}   arguments: JSON text
    {"type": "tool_result", "id": str, "content": [text/image parts], "is_error": bool}

Stream events are tuples, first item the kind:

    ("start", id, model)                 the answer begins
    ("text", text)                       a piece of text
    ("tool_start", index, id, name)      a tool call begins (index: its order in the answer)
    ("tool_args", index, json_piece)     a piece of its arguments' JSON text
    ("finish", reason, stop_sequence)    the model stopped (FINISH_REASONS)
    ("usage", Usage)                     the counts so far (the last one wins)
    ("error", message)                   the provider failed mid-stream
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hotpath.errors import BadRequest
from pricing.table import Usage

# Why the model stopped, in the common form.
STOP = "stop"  # a natural end (end_turn, stop, STOP)
LENGTH = "length"  # the output token bound
TOOL_CALLS = "tool_calls"  # it called tools and waits for their results
STOP_SEQUENCE = "stop_sequence"  # one of the request's stop sequences
CONTENT_FILTER = "content_filter"  # a safety system stopped or refused it
FINISH_REASONS = frozenset({STOP, LENGTH, TOOL_CALLS, STOP_SEQUENCE, CONTENT_FILTER})

Part = dict[str, Any]


@dataclass(slots=True)
class Message:
    role: str  # "user" | "assistant"
    parts: list[Part]


@dataclass(slots=True)
class Tool:
    name: str
    description: str | None
    parameters: dict[str, Any]


@dataclass(slots=True)
class Request:
    model: str
    messages: list[Message] = field(default_factory=list)
    system: list[str] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    # None, or {"type": "auto" | "none" | "required"} or {"type": "tool", "name": str}
    tool_choice: dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: list[str] = field(default_factory=list)
    # None, {"type": "json_object"} or {"type": "json_schema", "name", "schema", "strict"}
    response_format: dict[str, Any] | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None
    user: str | None = None
    stream: bool = False


@dataclass(slots=True)
class Response:
    id: str
    model: str
    parts: list[Part]  # text and tool_call parts
    finish: str
    stop_sequence: str | None = None
    usage: Usage = field(default_factory=Usage)


class Untranslatable(BadRequest):
    """What the caller asked for has no equivalent in the provider's API (400 naming it)."""

    def __init__(self, where: str, provider: str, why: str = "") -> None:
        reason = f": {why}" if why else ""
        super().__init__(f"`{where}` cannot be expressed for {provider}{reason}")


def invalid(where: str, why: str) -> BadRequest:
    """A malformed field of the caller's request (400 naming it)."""
    return BadRequest(f"`{where}` {why}")


def tool_names(messages: list[Message]) -> dict[str, str]:
    """Tool call id → tool name, over the conversation (a result names only the call's id)."""
    return {
        part["id"]: part["name"]
        for message in messages
        for part in message.parts
        if part["type"] == "tool_call"
    }


def text_of(parts: list[Part]) -> str:
    return "".join(p["text"] for p in parts if p["type"] == "text")
