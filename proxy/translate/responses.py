"""OpenAI Responses ↔ the common form: caller side (a Responses request to another provider),
and the request side for counting input tokens at OpenAI (/v1/responses/input_tokens).

Nothing is stored: `previous_response_id` and stored conversations are OpenAI's own and are
refused with 400 when the model is another provider's; the caller sends the whole input.
"""

from __future__ import annotations

import time
from typing import Any

from pricing.table import Usage
from proxy.providers import openai as wire
from proxy.translate import common, ir
from proxy.translate.ir import Message, Request, Response, Tool, Untranslatable, invalid
from proxy.translate.sse import event as sse_event

NAME = "OpenAI Responses"

# --- caller side ----------------------------------------------------------------------------


def _append(req: Request, role: str, parts: list[ir.Part]) -> None:
    if req.messages and req.messages[-1].role == role:
        req.messages[-1].parts.extend(parts)
    else:
        req.messages.append(Message(role, parts))


def _content(content: Any, where: str, target: str) -> list[ir.Part]:
    parts: list[ir.Part] = []
    for index, part in enumerate(common.text_or_parts(content, where, ())):
        kind = part.get("type")
        if kind in ("input_text", "output_text", "text"):
            parts.append({"type": "text", "text": str(part.get("text", ""))})
        elif kind == "refusal":
            parts.append({"type": "text", "text": str(part.get("refusal", ""))})
        elif kind == "input_image" and isinstance(part.get("image_url"), str):
            parts.append(common.image_from_url(part["image_url"], f"{where}[{index}].image_url"))
        else:
            raise Untranslatable(f"{where}[{index}]", target, f"{kind!r} content")
    return parts


def _input(req: Request, value: Any, target: str) -> None:
    if isinstance(value, str):
        req.messages.append(Message("user", [{"type": "text", "text": value}]))
        return
    if not isinstance(value, list):
        raise invalid("input", "must be a string or a list of items")
    for index, item in enumerate(value):
        where = f"input[{index}]"
        if not isinstance(item, dict):
            raise invalid(where, "must be an object")
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if role in ("system", "developer"):
                req.system.append(ir.text_of(_content(item.get("content"), where, target)))
            elif role in ("user", "assistant"):
                _append(req, role, _content(item.get("content"), f"{where}.content", target))
            else:
                raise invalid(f"{where}.role", "must be user, assistant, system or developer")
        elif kind == "function_call":
            if not isinstance(item.get("call_id"), str):
                raise invalid(f"{where}.call_id", "is required")
            call = {
                "type": "tool_call",
                "id": item["call_id"],
                "name": str(item.get("name", "")),
                "arguments": item.get("arguments") or "{}",
            }
            _append(req, "assistant", [call])
        elif kind == "function_call_output":
            if not isinstance(item.get("call_id"), str):
                raise invalid(f"{where}.call_id", "is required")
            output = item.get("output")
            parts = _content(output, f"{where}.output", target) if output is not None else []
            result = {"type": "tool_result", "id": item["call_id"], "content": parts}
            result["is_error"] = False
            _append(req, "user", [result])
        elif kind == "reasoning":
            raise Untranslatable(
                where, target, "reasoning items cannot be replayed to another provider"
            )
        else:
            raise Untranslatable(f"{where}.type", target, repr(kind))


def _instructions(req: Request, value: Any, target: str) -> None:
    if not isinstance(value, str):
        raise invalid("instructions", "must be a string")
    req.system.insert(0, value)


def _tools(req: Request, value: Any, target: str) -> None:
    for index, tool in enumerate(value or []):
        where = f"tools[{index}]"
        if not isinstance(tool, dict) or tool.get("type") != "function":
            kind = tool.get("type") if isinstance(tool, dict) else None
            raise Untranslatable(where, target, f"the built-in tool {kind!r}")
        if not isinstance(tool.get("name"), str):
            raise invalid(f"{where}.name", "is required")
        req.tools.append(Tool(tool["name"], tool.get("description"), tool.get("parameters") or {}))


def _tool_choice(req: Request, value: Any, target: str) -> None:
    if value in ("auto", "none", "required"):
        req.tool_choice = {"type": value}
    elif isinstance(value, dict) and value.get("type") == "function" and value.get("name"):
        req.tool_choice = {"type": "tool", "name": str(value["name"])}
    else:
        raise Untranslatable("tool_choice", target, repr(value))


def _text(req: Request, value: Any, target: str) -> None:
    if not isinstance(value, dict):
        raise invalid("text", "must be an object")
    if value.get("verbosity") is not None:
        raise Untranslatable("text.verbosity", target)
    fmt = value.get("format")
    if not isinstance(fmt, dict) or fmt.get("type") in (None, "text"):
        return
    if fmt["type"] == "json_object":
        req.response_format = {"type": "json_object"}
    elif fmt["type"] == "json_schema":
        if not isinstance(fmt.get("schema"), dict):
            raise invalid("text.format.schema", "is required")
        req.response_format = {
            "type": "json_schema",
            "name": fmt.get("name") or "response",
            "schema": fmt["schema"],
            "strict": fmt.get("strict"),
        }
    else:
        raise Untranslatable("text.format.type", target, repr(fmt["type"]))


def _reasoning(req: Request, value: Any, target: str) -> None:
    if value:
        raise Untranslatable("reasoning", target, "reasoning settings are OpenAI's own")


def _refuse(why: str):
    def read(req: Request, value: Any, target: str) -> None:
        raise Untranslatable(read.field, target, why)  # type: ignore[attr-defined]

    return read


def _number(name: str, attr: str):
    def read(req: Request, value: Any, target: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise invalid(name, "must be a number")
        setattr(req, attr, value)

    return read


def _parallel(req: Request, value: Any, target: str) -> None:
    req.parallel_tool_calls = bool(value)


def _user(req: Request, value: Any, target: str) -> None:
    if isinstance(value, str):
        req.user = value


def _ignore(req: Request, value: Any, target: str) -> None:
    """Accepted without an equivalent: it changes nothing the model answers."""


REQUEST_FIELDS: dict[str, Any] = {
    "model": _ignore,
    "stream": _ignore,
    "stream_options": _ignore,
    "input": _input,
    "instructions": _instructions,
    "max_output_tokens": _number("max_output_tokens", "max_tokens"),
    "temperature": _number("temperature", "temperature"),
    "top_p": _number("top_p", "top_p"),
    "tools": _tools,
    "tool_choice": _tool_choice,
    "parallel_tool_calls": _parallel,
    "text": _text,
    "reasoning": _reasoning,
    "user": _user,
    "safety_identifier": _user,
    "store": _ignore,  # nothing is stored for another provider's model
    "include": _ignore,  # extra output OpenAI would add (none exists here)
    "metadata": _ignore,
    "service_tier": _ignore,
    "prompt_cache_key": _ignore,
    "truncation": _ignore,
    "previous_response_id": _refuse("stored conversations are OpenAI's own: send the input"),
    "conversation": _refuse("stored conversations are OpenAI's own: send the input"),
    "background": _refuse("background responses are OpenAI's own"),
    "prompt": _refuse("stored prompts are OpenAI's own"),
}
for _name, _reader in REQUEST_FIELDS.items():
    _reader.field = _name  # type: ignore[attr-defined]


def read_request(body: dict[str, Any], target: str) -> Request:
    req = Request(model="", stream=body.get("stream") is True)
    for name, value in body.items():
        reader = REQUEST_FIELDS.get(name)
        if reader is None:
            raise Untranslatable(name, target)
        if value is not None:
            reader(req, value, target)
    if not req.messages:
        raise invalid("input", "is required")
    return req


def usage_out(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {"cached_tokens": usage.cache_read_tokens},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }


def _message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": []}] if text else []
    return {
        "type": "message",
        "id": item_id,
        "status": status,
        "role": "assistant",
        "content": content,
    }


def _call_item(item_id: str, part: ir.Part, status: str = "completed") -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": item_id,
        "call_id": part["id"],
        "name": part["name"],
        "arguments": part["arguments"],
        "status": status,
    }


INCOMPLETE = {ir.LENGTH: "max_output_tokens", ir.CONTENT_FILTER: "content_filter"}


def _response(
    response_id: str,
    model: str,
    req: Request,
    output: list[dict[str, Any]],
    finish: str | None,
    usage: Usage | None,
) -> dict[str, Any]:
    reason = INCOMPLETE.get(finish or "")
    status = "in_progress" if finish is None else ("incomplete" if reason else "completed")
    tools = [
        {
            "type": "function",
            "name": t.name,
            "description": t.description,
            "parameters": t.parameters,
            "strict": None,
        }
        for t in req.tools
    ]
    choice = req.tool_choice or {"type": "auto"}
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "error": None,
        "incomplete_details": {"reason": reason} if reason else None,
        "instructions": None,
        "max_output_tokens": req.max_tokens,
        "model": model,
        "output": output,
        "parallel_tool_calls": req.parallel_tool_calls is not False,
        "previous_response_id": None,
        "reasoning": None,
        "store": False,
        "temperature": req.temperature,
        "text": {"format": {"type": "text"}},
        "tool_choice": {"type": "function", "name": choice["name"]}
        if choice["type"] == "tool"
        else choice["type"],
        "tools": tools,
        "top_p": req.top_p,
        "truncation": "disabled",
        "usage": usage_out(usage) if usage is not None else None,
        "metadata": {},
    }


def write_response(resp: Response, model: str, req: Request) -> dict[str, Any]:
    output = []
    text = ir.text_of(resp.parts)
    if text:
        output.append(_message_item("msg_" + resp.id, text))
    for part in resp.parts:
        if part["type"] == "tool_call":
            output.append(_call_item("fc_" + part["id"], part))
    return _response("resp_" + resp.id, model, req, output, resp.finish, resp.usage)


class StreamWriter:
    """Common stream events → Responses events (response.created … response.completed)."""

    def __init__(self, model: str, req: Request) -> None:
        self.model = model
        self.req = req
        self.id = "resp_" + common.new_id("")
        self.seq = 0
        self.started = False
        self.output: list[dict[str, Any]] = []  # finished items
        self.open: dict[str, Any] | None = None  # the item being streamed
        self.text = ""
        self.tools: dict[int, int] = {}
        self.finish = ir.STOP
        self.usage: Usage | None = None

    def _ev(self, kind: str, **data: Any) -> bytes:
        data = {"type": kind, "sequence_number": self.seq, **data}
        self.seq += 1
        return sse_event(data, kind)

    def _start(self) -> bytes:
        if self.started:
            return b""
        self.started = True
        skeleton = _response(self.id, self.model, self.req, [], None, None)
        return self._ev("response.created", response=skeleton) + self._ev(
            "response.in_progress", response=skeleton
        )

    def _close(self) -> bytes:
        item, self.open = self.open, None
        if item is None:
            return b""
        index = len(self.output)
        if item["type"] == "message":
            done = _message_item(item["id"], self.text)
            part = {"type": "output_text", "text": self.text, "annotations": []}
            out = self._ev(
                "response.output_text.done",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                text=self.text,
                logprobs=[],
            )
            out += self._ev(
                "response.content_part.done",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                part=part,
            )
        else:
            done = {**item, "status": "completed"}
            out = self._ev(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=index,
                arguments=item["arguments"],
            )
        self.output.append(done)
        return out + self._ev("response.output_item.done", output_index=index, item=done)

    def event(self, ev: tuple[Any, ...]) -> bytes:
        kind = ev[0]
        if kind == "text":
            out = self._start()
            index = len(self.output)
            if self.open is None or self.open["type"] != "message":
                out += self._close()
                index = len(self.output)
                self.open = _message_item("msg_" + common.new_id(""), "", "in_progress")
                self.text = ""
                out += self._ev("response.output_item.added", output_index=index, item=self.open)
                part = {"type": "output_text", "text": "", "annotations": []}
                out += self._ev(
                    "response.content_part.added",
                    item_id=self.open["id"],
                    output_index=index,
                    content_index=0,
                    part=part,
                )
            self.text += ev[1]
            return out + self._ev(
                "response.output_text.delta",
                item_id=self.open["id"],
                output_index=index,
                content_index=0,
                delta=ev[1],
                logprobs=[],
            )
        if kind == "tool_start":
            out = self._start() + self._close()
            part = {"id": ev[2], "name": ev[3], "arguments": ""}
            self.open = _call_item("fc_" + ev[2], part, "in_progress")
            self.tools[ev[1]] = len(self.output)
            return out + self._ev(
                "response.output_item.added", output_index=len(self.output), item=dict(self.open)
            )
        if kind == "tool_args":
            if (
                self.open is None
                or self.open["type"] != "function_call"
                or self.tools.get(ev[1]) != len(self.output)
            ):
                return b""
            self.open["arguments"] += ev[2]
            return self._ev(
                "response.function_call_arguments.delta",
                item_id=self.open["id"],
                output_index=len(self.output),
                delta=ev[2],
            )
        if kind == "start":
            return self._start()
        if kind == "finish":
            self.finish = ev[1]
            return b""
        if kind == "usage":
            self.usage = ev[1]
            return b""
        if kind == "error":
            return self.error(ev[1])
        return b""

    def end(self) -> bytes:
        out = self._start() + self._close()
        final = _response(
            self.id, self.model, self.req, self.output, self.finish, self.usage or Usage()
        )
        kind = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
        return out + self._ev(kind, response=final)

    def error(self, message: str) -> bytes:
        return wire.stream_error_event("Responses", message)


# --- provider side: a Responses request (to count input tokens at OpenAI) -------------------


def _content_out(part: ir.Part, role: str) -> dict[str, Any]:
    if part["type"] == "text":
        return {
            "type": "output_text" if role == "assistant" else "input_text",
            "text": part["text"],
        }
    return {"type": "input_image", "image_url": common.data_url(part)}


def write_request(req: Request, target: str = "openai") -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    for message in req.messages:
        content = []
        for part in message.parts:
            if part["type"] == "tool_call":
                items.append(
                    {
                        "type": "function_call",
                        "call_id": part["id"],
                        "name": part["name"],
                        "arguments": part["arguments"],
                    }
                )
            elif part["type"] == "tool_result":
                output = ir.text_of(part["content"])
                items.append(
                    {"type": "function_call_output", "call_id": part["id"], "output": output}
                )
            else:
                content.append(_content_out(part, message.role))
        if content:
            items.append({"type": "message", "role": message.role, "content": content})
    body: dict[str, Any] = {"model": req.model, "input": items}
    if req.system:
        body["instructions"] = "\n\n".join(req.system)
    if req.tools:
        body["tools"] = [
            {
                "type": "function",
                "name": t.name,
                "description": t.description,
                "parameters": t.parameters or {"type": "object", "properties": {}},
            }
            for t in req.tools
        ]
    return body
