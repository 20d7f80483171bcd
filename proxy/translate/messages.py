"""Anthropic Messages ↔ the common form, both ways (caller side and provider side).

Prompt-caching marks (`cache_control`) are accepted and have no equivalent elsewhere: OpenAI
and Gemini cache prompts on their own. Thinking blocks cannot be replayed to another provider
and are refused with 400 naming the block.
"""

from __future__ import annotations

from typing import Any

import orjson

from pricing.table import Usage
from proxy.providers import anthropic as wire
from proxy.translate import common, ir
from proxy.translate.ir import Message, Request, Response, Tool, Untranslatable, invalid
from proxy.translate.sse import event as sse_event

NAME = "Anthropic Messages"
VERSION = "2023-06-01"  # the anthropic-version header sent on translated calls
STRUCTURED_OUTPUTS_BETA = "structured-outputs-2025-11-13"
# Anthropic requires max_tokens; a caller of another API may leave it out.
DEFAULT_MAX_TOKENS = 4096

# --- caller side ----------------------------------------------------------------------------


def _image(block: dict[str, Any], where: str) -> ir.Part:
    source = block.get("source") or {}
    if source.get("type") == "base64":
        return {"type": "image", "media_type": source.get("media_type"), "data": source.get("data")}
    if source.get("type") == "url":
        return common.image_from_url(source.get("url"), f"{where}.source.url")
    raise invalid(f"{where}.source.type", "must be base64 or url")


def _result_content(content: Any, where: str, target: str) -> list[ir.Part]:
    parts: list[ir.Part] = []
    for index, block in enumerate(common.text_or_parts(content, where, ())):
        if block.get("type") == "text":
            parts.append({"type": "text", "text": str(block.get("text", ""))})
        elif block.get("type") == "image":
            parts.append(_image(block, f"{where}[{index}]"))
        else:
            raise Untranslatable(f"{where}[{index}].type", target, repr(block.get("type")))
    return parts


def _blocks(content: Any, where: str, role: str, target: str) -> list[ir.Part]:
    parts: list[ir.Part] = []
    for index, block in enumerate(common.text_or_parts(content, where, ())):
        kind = block.get("type")
        at = f"{where}[{index}]"
        if kind == "text":
            parts.append({"type": "text", "text": str(block.get("text", ""))})
        elif kind == "image" and role == "user":
            parts.append(_image(block, at))
        elif kind == "tool_use" and role == "assistant":
            parts.append(
                {
                    "type": "tool_call",
                    "id": str(block.get("id", "")),
                    "name": str(block.get("name", "")),
                    "arguments": common.dumps(block.get("input") or {}),
                }
            )
        elif kind == "tool_result" and role == "user":
            parts.append(
                {
                    "type": "tool_result",
                    "id": str(block.get("tool_use_id", "")),
                    "content": _result_content(block.get("content"), f"{at}.content", target),
                    "is_error": block.get("is_error") is True,
                }
            )
        elif kind in ("thinking", "redacted_thinking"):
            raise Untranslatable(
                at, target, f"{kind} blocks cannot be replayed to another provider"
            )
        else:
            raise Untranslatable(f"{at}.type", target, repr(kind))
    return parts


def _messages(req: Request, value: Any, target: str) -> None:
    if not isinstance(value, list) or not value:
        raise invalid("messages", "must be a non-empty list")
    for index, message in enumerate(value):
        where = f"messages[{index}]"
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise invalid(f"{where}.role", "must be user or assistant")
        role = message["role"]
        parts = _blocks(message.get("content"), f"{where}.content", role, target)
        if req.messages and req.messages[-1].role == role:
            req.messages[-1].parts.extend(parts)
        else:
            req.messages.append(Message(role, parts))


def _system(req: Request, value: Any, target: str) -> None:
    for index, block in enumerate(common.text_or_parts(value, "system", ())):
        if block.get("type") != "text":
            raise Untranslatable(f"system[{index}].type", target, repr(block.get("type")))
        req.system.append(str(block.get("text", "")))


def _tools(req: Request, value: Any, target: str) -> None:
    for index, tool in enumerate(value or []):
        where = f"tools[{index}]"
        if not isinstance(tool, dict):
            raise invalid(where, "must be an object")
        if tool.get("type") not in (None, "custom"):
            raise Untranslatable(where, target, f"the built-in tool {tool.get('type')!r}")
        if not isinstance(tool.get("name"), str):
            raise invalid(f"{where}.name", "is required")
        schema = tool.get("input_schema") or {"type": "object"}
        req.tools.append(Tool(tool["name"], tool.get("description"), schema))


def _tool_choice(req: Request, value: Any, target: str) -> None:
    if not isinstance(value, dict):
        raise invalid("tool_choice", "must be an object")
    kind = value.get("type")
    if kind == "tool":
        req.tool_choice = {"type": "tool", "name": str(value.get("name", ""))}
    elif kind in ("auto", "any", "none"):
        req.tool_choice = {"type": "required" if kind == "any" else kind}
    else:
        raise Untranslatable("tool_choice.type", target, repr(kind))
    if value.get("disable_parallel_tool_use") is True:
        req.parallel_tool_calls = False


def _number(name: str, attr: str):
    def read(req: Request, value: Any, target: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise invalid(name, "must be a number")
        setattr(req, attr, value)

    return read


def _stop(req: Request, value: Any, target: str) -> None:
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise invalid("stop_sequences", "must be a list of strings")
    req.stop = value


def _metadata(req: Request, value: Any, target: str) -> None:
    if isinstance(value, dict) and isinstance(value.get("user_id"), str):
        req.user = value["user_id"]


def _thinking(req: Request, value: Any, target: str) -> None:
    if not (isinstance(value, dict) and value.get("type") == "disabled"):
        raise Untranslatable("thinking", target, "extended thinking is Anthropic's own")


def _output_format(req: Request, value: Any, target: str) -> None:
    if not isinstance(value, dict) or value.get("type") != "json_schema":
        raise Untranslatable("output_format", target, repr(value))
    if not isinstance(value.get("schema"), dict):
        raise invalid("output_format.schema", "is required")
    req.response_format = {"type": "json_schema", "name": "response", "schema": value["schema"]}


def _ignore(req: Request, value: Any, target: str) -> None:
    """Accepted without an equivalent: it changes nothing the model answers."""


REQUEST_FIELDS = {
    "model": _ignore,
    "stream": _ignore,
    "messages": _messages,
    "system": _system,
    "max_tokens": _number("max_tokens", "max_tokens"),
    "temperature": _number("temperature", "temperature"),
    "top_p": _number("top_p", "top_p"),
    "top_k": _number("top_k", "top_k"),
    "stop_sequences": _stop,
    "tools": _tools,
    "tool_choice": _tool_choice,
    "metadata": _metadata,
    "thinking": _thinking,
    "output_format": _output_format,
    "service_tier": _ignore,
}


def read_request(body: dict[str, Any], target: str) -> Request:
    req = Request(model="", stream=body.get("stream") is True)
    for name, value in body.items():
        reader = REQUEST_FIELDS.get(name)
        if reader is None:
            raise Untranslatable(name, target)
        if value is not None:
            reader(req, value, target)
    return req


FINISH_OUT = {
    ir.STOP: "end_turn",
    ir.STOP_SEQUENCE: "stop_sequence",
    ir.LENGTH: "max_tokens",
    ir.TOOL_CALLS: "tool_use",
    ir.CONTENT_FILTER: "refusal",
}


def usage_out(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens,
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
    }


def _content_out(parts: list[ir.Part]) -> list[dict[str, Any]]:
    out = []
    for part in parts:
        if part["type"] == "text":
            out.append({"type": "text", "text": part["text"]})
        elif part["type"] == "tool_call":
            out.append(
                {
                    "type": "tool_use",
                    "id": part["id"],
                    "name": part["name"],
                    "input": common.provider_arguments(part["arguments"]),
                }
            )
    return out


def write_response(resp: Response, model: str, req: Request) -> dict[str, Any]:
    return {
        "id": "msg_" + resp.id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": _content_out(resp.parts),
        "stop_reason": FINISH_OUT[resp.finish],
        "stop_sequence": resp.stop_sequence,
        "usage": usage_out(resp.usage),
    }


class StreamWriter:
    """Common stream events → Anthropic message events (message_start … message_stop).

    The stop reason waits for the end of the stream, so that message_delta carries the final
    usage (other providers send it after the finish)."""

    def __init__(self, model: str, req: Request) -> None:
        self.model = model
        self.started = False
        self.block = -1  # index of the open content block, -1 when none
        self.block_kind = ""
        self.tools: dict[int, int] = {}  # the common form's tool index → block index
        self.finish = ir.STOP
        self.stop_sequence: str | None = None
        self.usage: Usage | None = None

    def _start(self, message_id: str = "") -> bytes:
        if self.started:
            return b""
        self.started = True
        message = {
            "id": "msg_" + (message_id or common.new_id("")),
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage_out(self.usage or Usage()),
        }
        return sse_event({"type": "message_start", "message": message}, "message_start")

    def _close(self) -> bytes:
        if self.block_kind == "":
            return b""
        self.block_kind = ""
        return sse_event({"type": "content_block_stop", "index": self.block}, "content_block_stop")

    def _open(self, kind: str, block: dict[str, Any]) -> bytes:
        out = self._close()
        self.block += 1
        self.block_kind = kind
        start = {"type": "content_block_start", "index": self.block, "content_block": block}
        return out + sse_event(start, "content_block_start")

    def _delta(self, delta: dict[str, Any]) -> bytes:
        data = {"type": "content_block_delta", "index": self.block, "delta": delta}
        return sse_event(data, "content_block_delta")

    def event(self, ev: tuple[Any, ...]) -> bytes:
        kind = ev[0]
        if kind == "text":
            out = self._start()
            if self.block_kind != "text":
                out += self._open("text", {"type": "text", "text": ""})
            return out + self._delta({"type": "text_delta", "text": ev[1]})
        if kind == "tool_start":
            out = self._start()
            out += self._open("tool", {"type": "tool_use", "id": ev[2], "name": ev[3], "input": {}})
            self.tools[ev[1]] = self.block
            return out
        if kind == "tool_args":
            if self.tools.get(ev[1]) != self.block or self.block_kind != "tool":
                return b""  # arguments of a block already closed: providers never do this
            return self._delta({"type": "input_json_delta", "partial_json": ev[2]})
        if kind == "start":
            return self._start(ev[1])
        if kind == "finish":
            self.finish, self.stop_sequence = ev[1], ev[2]
            return b""
        if kind == "usage":
            self.usage = ev[1]
            return b""
        if kind == "error":
            return self.error(ev[1])
        return b""

    def end(self) -> bytes:
        out = self._start() + self._close()
        delta = {"stop_reason": FINISH_OUT[self.finish], "stop_sequence": self.stop_sequence}
        usage = usage_out(self.usage or Usage())
        out += sse_event({"type": "message_delta", "delta": delta, "usage": usage}, "message_delta")
        return out + sse_event({"type": "message_stop"}, "message_stop")

    def error(self, message: str) -> bytes:
        return wire.stream_error_event("Messages", message)


# --- provider side ---------------------------------------------------------------------------


def _image_out(part: ir.Part) -> dict[str, Any]:
    if "url" in part:
        return {"type": "image", "source": {"type": "url", "url": part["url"]}}
    source = {"type": "base64", "media_type": part["media_type"], "data": part["data"]}
    return {"type": "image", "source": source}


def _block_out(part: ir.Part, where: str) -> dict[str, Any]:
    kind = part["type"]
    if kind == "text":
        return {"type": "text", "text": part["text"]}
    if kind == "image":
        return _image_out(part)
    if kind == "tool_call":
        return {
            "type": "tool_use",
            "id": part["id"],
            "name": part["name"],
            "input": common.arguments_json(part["arguments"], f"{where}.arguments"),
        }
    content = [_block_out(p, where) for p in part["content"]]
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": part["id"], "content": content}
    if part.get("is_error"):
        block["is_error"] = True
    return block


def write_request(req: Request, target: str = "anthropic") -> dict[str, Any]:
    for name in ("presence_penalty", "frequency_penalty", "seed"):
        if getattr(req, name) is not None:
            raise Untranslatable(name, target)
    if req.temperature is not None and req.temperature > 1:
        raise Untranslatable("temperature", target, "Anthropic takes 0 to 1")
    messages = []
    for index, message in enumerate(req.messages):
        blocks = [_block_out(p, f"messages[{index}]") for p in message.parts]
        blocks = [b for b in blocks if b["type"] != "text" or b["text"]]
        if blocks:
            messages.append({"role": message.role, "content": blocks})
    body: dict[str, Any] = {
        "model": req.model,
        "max_tokens": req.max_tokens or DEFAULT_MAX_TOKENS,
        "messages": messages,
    }
    system = [s for s in req.system if s]
    if system:
        body["system"] = [{"type": "text", "text": s} for s in system]
    if req.tools:
        body["tools"] = [
            {
                "name": t.name,
                **({"description": t.description} if t.description else {}),
                "input_schema": t.parameters or {"type": "object", "properties": {}},
            }
            for t in req.tools
        ]
    choice = req.tool_choice
    if choice is not None:
        kind = {"required": "any"}.get(choice["type"], choice["type"])
        body["tool_choice"] = {"type": kind, **({"name": choice["name"]} if kind == "tool" else {})}
    if req.parallel_tool_calls is False and req.tools:
        body.setdefault("tool_choice", {"type": "auto"})["disable_parallel_tool_use"] = True
    for name in ("temperature", "top_p", "top_k"):
        value = getattr(req, name)
        if value is not None:
            body[name] = value
    if req.stop:
        body["stop_sequences"] = req.stop
    if req.user:
        body["metadata"] = {"user_id": req.user}
    fmt = req.response_format
    if fmt is not None:
        if fmt["type"] != "json_schema":
            raise Untranslatable("response_format", target, "only a JSON schema")
        body["output_format"] = {"type": "json_schema", "schema": fmt["schema"]}
    if req.stream:
        body["stream"] = True
    return body


def request_headers(req: Request) -> list[tuple[str, str]]:
    """The headers a request written by write_request needs (its version, and the beta flag
    of structured outputs when it asks for a JSON schema)."""
    headers = [("anthropic-version", VERSION)]
    if req.response_format is not None:
        headers.append(("anthropic-beta", STRUCTURED_OUTPUTS_BETA))
    return headers


FINISH_IN = {
    "end_turn": ir.STOP,
    "pause_turn": ir.STOP,
    "max_tokens": ir.LENGTH,
    "model_context_window_exceeded": ir.LENGTH,
    "stop_sequence": ir.STOP_SEQUENCE,
    "tool_use": ir.TOOL_CALLS,
    "refusal": ir.CONTENT_FILTER,
}


def read_response(obj: dict[str, Any]) -> Response:
    parts: list[ir.Part] = []
    for block in obj.get("content") or []:
        if block.get("type") == "text":
            parts.append({"type": "text", "text": block.get("text", "")})
        elif block.get("type") == "tool_use":
            parts.append(
                {
                    "type": "tool_call",
                    "id": block.get("id") or common.new_id("toolu_"),
                    "name": block.get("name", ""),
                    "arguments": common.dumps(block.get("input") or {}),
                }
            )
    message_id = str(obj.get("id") or "").removeprefix("msg_") or common.new_id("")
    return Response(
        id=message_id,
        model=str(obj.get("model") or ""),
        parts=parts,
        finish=FINISH_IN.get(obj.get("stop_reason"), ir.STOP),
        stop_sequence=obj.get("stop_sequence"),
        usage=wire.usage_from_obj(obj.get("usage")) or Usage(),
    )


class StreamReader:
    """Anthropic message events → common stream events."""

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self.tool_blocks: set[int] = set()

    def event(self, obj: Any) -> list[tuple[Any, ...]]:
        if not isinstance(obj, dict):
            return []
        kind = obj.get("type")
        if kind == "content_block_delta":
            delta = obj.get("delta") or {}
            if delta.get("type") == "text_delta":
                return [("text", delta.get("text", ""))]
            if delta.get("type") == "input_json_delta" and obj.get("index") in self.tool_blocks:
                return [("tool_args", obj["index"], delta.get("partial_json", ""))]
            return []
        if kind == "content_block_start":
            block = obj.get("content_block") or {}
            if block.get("type") == "tool_use":
                index = obj.get("index", 0)
                self.tool_blocks.add(index)
                return [("tool_start", index, block.get("id", ""), block.get("name", ""))]
            return []
        if kind == "message_start":
            message = obj.get("message") or {}
            self.usage = wire.usage_from_obj(message.get("usage"), self.usage)
            message_id = str(message.get("id") or "").removeprefix("msg_")
            out: list[tuple[Any, ...]] = [("start", message_id, str(message.get("model") or ""))]
            return out + ([("usage", self.usage)] if self.usage else [])
        if kind == "message_delta":
            delta = obj.get("delta") or {}
            self.usage = wire.usage_from_obj(obj.get("usage"), self.usage)
            out = []
            if delta.get("stop_reason"):
                reason = FINISH_IN.get(delta["stop_reason"], ir.STOP)
                out.append(("finish", reason, delta.get("stop_sequence")))
            return out + ([("usage", self.usage)] if self.usage else [])
        if kind == "error":
            return [("error", common.error_message(orjson.dumps(obj)))]
        return []
