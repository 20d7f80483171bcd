"""OpenAI Chat Completions ↔ the common form, both ways (caller side and provider side).

Tables below name every request field: translated, accepted without an equivalent (they change
nothing the model produces), or refused with 400 naming the field.
"""

from __future__ import annotations

import time
from typing import Any

from pricing.table import Usage
from proxy.providers import openai as wire
from proxy.translate import common, ir
from proxy.translate.ir import Message, Request, Response, Tool, Untranslatable, invalid
from proxy.translate.sse import event as sse_event

NAME = "OpenAI Chat Completions"

# --- caller side: a chat request in, a chat answer out --------------------------------------


def _n(req: Request, value: Any, target: str) -> None:
    if value not in (None, 1):
        raise Untranslatable("n", target, "only one choice can be asked for")


def _number(name: str):
    def read(req: Request, value: Any, target: str) -> None:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise invalid(name, "must be a number")
        setattr(req, name, value)

    return read


def _max_tokens(req: Request, value: Any, target: str) -> None:
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise invalid("max_tokens", "must be a positive integer")
        req.max_tokens = value


def _stop(req: Request, value: Any, target: str) -> None:
    if value is None:
        return
    stops = [value] if isinstance(value, str) else value
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise invalid("stop", "must be a string or a list of strings")
    req.stop = stops


def _tools(req: Request, value: Any, target: str) -> None:
    for index, tool in enumerate(value or []):
        where = f"tools[{index}]"
        if not isinstance(tool, dict) or tool.get("type", "function") != "function":
            kind = tool.get("type") if isinstance(tool, dict) else None
            raise Untranslatable(f"{where}.type", target, f"only function tools ({kind!r})")
        fn = tool.get("function")
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise invalid(f"{where}.function.name", "is required")
        req.tools.append(Tool(fn["name"], fn.get("description"), fn.get("parameters") or {}))


def _tool_choice(req: Request, value: Any, target: str) -> None:
    if value is None:
        return
    if value in ("auto", "none", "required"):
        req.tool_choice = {"type": value}
    elif isinstance(value, dict) and isinstance((value.get("function") or {}).get("name"), str):
        req.tool_choice = {"type": "tool", "name": value["function"]["name"]}
    else:
        raise Untranslatable("tool_choice", target, f"{value!r}")


def _parallel(req: Request, value: Any, target: str) -> None:
    if value is not None:
        req.parallel_tool_calls = bool(value)


def _response_format(req: Request, value: Any, target: str) -> None:
    if not isinstance(value, dict) or value.get("type") in (None, "text"):
        return
    if value["type"] == "json_object":
        req.response_format = {"type": "json_object"}
    elif value["type"] == "json_schema":
        spec = value.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("schema"), dict):
            raise invalid("response_format.json_schema.schema", "is required")
        req.response_format = {
            "type": "json_schema",
            "name": spec.get("name") or "response",
            "schema": spec["schema"],
            "strict": spec.get("strict"),
        }
    else:
        raise Untranslatable("response_format.type", target, repr(value["type"]))


def _user(req: Request, value: Any, target: str) -> None:
    if isinstance(value, str):
        req.user = value


def _seed(req: Request, value: Any, target: str) -> None:
    if value is not None:
        req.seed = value


def _user_parts(content: Any, where: str, target: str) -> list[ir.Part]:
    parts: list[ir.Part] = []
    for index, part in enumerate(common.text_or_parts(content, where, ())):
        kind = part.get("type")
        if kind == "text":
            parts.append({"type": "text", "text": str(part.get("text", ""))})
        elif kind == "image_url":
            url = (part.get("image_url") or {}).get("url")
            parts.append(common.image_from_url(url, f"{where}[{index}].image_url.url"))
        else:
            raise Untranslatable(f"{where}[{index}].type", target, f"{kind!r} content")
    return parts


def _text_content(content: Any, where: str, target: str) -> str:
    texts = []
    for index, part in enumerate(common.text_or_parts(content, where, ())):
        if part.get("type") not in ("text", "refusal"):
            raise Untranslatable(f"{where}[{index}].type", target, f"{part.get('type')!r}")
        texts.append(str(part.get("text") or part.get("refusal") or ""))
    return "".join(texts)


def _append(req: Request, role: str, parts: list[ir.Part]) -> None:
    """Consecutive turns of one role become one (tool results and the text after them)."""
    if req.messages and req.messages[-1].role == role:
        req.messages[-1].parts.extend(parts)
    else:
        req.messages.append(Message(role, parts))


def _messages(req: Request, value: Any, target: str) -> None:
    if not isinstance(value, list) or not value:
        raise invalid("messages", "must be a non-empty list")
    for index, message in enumerate(value):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise invalid(where, "must be an object")
        role = message.get("role")
        content = message.get("content")
        if role in ("system", "developer"):
            req.system.append(_text_content(content, f"{where}.content", target))
        elif role == "user":
            _append(req, "user", _user_parts(content, f"{where}.content", target))
        elif role == "assistant":
            for name in ("audio", "function_call"):
                if message.get(name):
                    raise Untranslatable(f"{where}.{name}", target)
            text = _text_content(content, f"{where}.content", target)
            parts: list[ir.Part] = [{"type": "text", "text": text}] if text else []
            for n, call in enumerate(message.get("tool_calls") or []):
                fn = call.get("function") if isinstance(call, dict) else None
                if not isinstance(fn, dict) or not isinstance(call.get("id"), str):
                    raise invalid(f"{where}.tool_calls[{n}]", "must have an id and a function")
                parts.append(
                    {
                        "type": "tool_call",
                        "id": call["id"],
                        "name": str(fn.get("name", "")),
                        "arguments": fn.get("arguments") or "{}",
                    }
                )
            _append(req, "assistant", parts)
        elif role == "tool":
            call_id = message.get("tool_call_id")
            if not isinstance(call_id, str):
                raise invalid(f"{where}.tool_call_id", "is required")
            text = _text_content(content, f"{where}.content", target)
            result = {"type": "tool_result", "id": call_id, "is_error": False}
            result["content"] = [{"type": "text", "text": text}]
            _append(req, "user", [result])
        else:
            raise Untranslatable(f"{where}.role", target, f"role {role!r}")


def _ignore(req: Request, value: Any, target: str) -> None:
    """Accepted without an equivalent: it changes nothing the model answers."""


REQUEST_FIELDS = {
    "model": _ignore,
    "stream": _ignore,
    "stream_options": _ignore,  # usage always ends a translated stream
    "messages": _messages,
    "max_tokens": _max_tokens,
    "max_completion_tokens": _max_tokens,
    "temperature": _number("temperature"),
    "top_p": _number("top_p"),
    "presence_penalty": _number("presence_penalty"),
    "frequency_penalty": _number("frequency_penalty"),
    "seed": _seed,
    "stop": _stop,
    "n": _n,
    "tools": _tools,
    "tool_choice": _tool_choice,
    "parallel_tool_calls": _parallel,
    "response_format": _response_format,
    "user": _user,
    "safety_identifier": _user,
    "metadata": _ignore,  # stored by OpenAI only
    "store": _ignore,
    "service_tier": _ignore,
    "prompt_cache_key": _ignore,  # caching is the provider's own
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
    ir.STOP: "stop",
    ir.STOP_SEQUENCE: "stop",
    ir.LENGTH: "length",
    ir.TOOL_CALLS: "tool_calls",
    ir.CONTENT_FILTER: "content_filter",
}


def usage_out(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def write_response(resp: Response, model: str, req: Request) -> dict[str, Any]:
    text = ir.text_of(resp.parts)
    message: dict[str, Any] = {"role": "assistant", "content": text or None, "refusal": None}
    calls = [
        {
            "id": p["id"],
            "type": "function",
            "function": {"name": p["name"], "arguments": p["arguments"]},
        }
        for p in resp.parts
        if p["type"] == "tool_call"
    ]
    if calls:
        message["tool_calls"] = calls
    return {
        "id": "chatcmpl-" + resp.id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": FINISH_OUT[resp.finish],
            }
        ],
        "usage": usage_out(resp.usage),
    }


class StreamWriter:
    """Common stream events → chat.completion.chunk events, then `data: [DONE]`."""

    def __init__(self, model: str, req: Request) -> None:
        self.model = model
        self.id = "chatcmpl-" + common.new_id("")
        self.created = int(time.time())
        self.tools: dict[int, int] = {}  # the common form's tool index → the chunk's index
        self.usage: Usage | None = None
        self.started = False

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        return sse_event(
            {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }
        )

    def _start(self) -> bytes:
        if self.started:
            return b""
        self.started = True
        return self._chunk({"role": "assistant", "content": ""})

    def event(self, ev: tuple[Any, ...]) -> bytes:
        kind = ev[0]
        if kind == "text":
            return self._start() + self._chunk({"content": ev[1]})
        if kind == "tool_start":
            index = self.tools.setdefault(ev[1], len(self.tools))
            call = {"index": index, "id": ev[2], "type": "function"}
            call["function"] = {"name": ev[3], "arguments": ""}
            return self._start() + self._chunk({"tool_calls": [call]})
        if kind == "tool_args":
            index = self.tools.setdefault(ev[1], len(self.tools))
            return self._chunk({"tool_calls": [{"index": index, "function": {"arguments": ev[2]}}]})
        if kind == "finish":
            return self._start() + self._chunk({}, FINISH_OUT[ev[1]])
        if kind == "usage":
            self.usage = ev[1]
            return b""
        if kind == "start":
            return self._start()
        if kind == "error":
            return self.error(ev[1])
        return b""

    def end(self) -> bytes:
        out = self._start()
        if self.usage is not None:
            out += sse_event(
                {
                    "id": self.id,
                    "object": "chat.completion.chunk",
                    "created": self.created,
                    "model": self.model,
                    "choices": [],
                    "usage": usage_out(self.usage),
                }
            )
        return out + b"data: [DONE]\n\n"

    def error(self, message: str) -> bytes:
        return wire.stream_error_event("ChatCompletions", message)


# --- provider side: the common form out as a chat request, a chat answer in -----------------

FINISH_IN = {
    "stop": ir.STOP,
    "length": ir.LENGTH,
    "tool_calls": ir.TOOL_CALLS,
    "function_call": ir.TOOL_CALLS,
    "content_filter": ir.CONTENT_FILTER,
}


def _user_content(parts: list[ir.Part]) -> Any:
    out: list[dict[str, Any]] = []
    for part in parts:
        if part["type"] == "text":
            out.append({"type": "text", "text": part["text"]})
        else:
            out.append({"type": "image_url", "image_url": {"url": common.data_url(part)}})
    if len(out) == 1 and out[0]["type"] == "text":
        return out[0]["text"]
    return out


def write_request(req: Request, target: str = "openai") -> dict[str, Any]:
    if req.top_k is not None:
        raise Untranslatable("top_k", target)
    messages: list[dict[str, Any]] = [{"role": "system", "content": s} for s in req.system]
    for index, message in enumerate(req.messages):
        if message.role == "assistant":
            text = ir.text_of(message.parts)
            out: dict[str, Any] = {"role": "assistant", "content": text or None}
            calls = [
                {
                    "id": p["id"],
                    "type": "function",
                    "function": {"name": p["name"], "arguments": p["arguments"]},
                }
                for p in message.parts
                if p["type"] == "tool_call"
            ]
            if calls:
                out["tool_calls"] = calls
            messages.append(out)
            continue
        rest = []
        for part in message.parts:
            if part["type"] == "tool_result":
                if any(p["type"] != "text" for p in part["content"]):
                    raise Untranslatable(
                        f"messages[{index}] tool result image", target, "tool results are text"
                    )
                content = ir.text_of(part["content"])
                messages.append({"role": "tool", "tool_call_id": part["id"], "content": content})
            else:
                rest.append(part)
        if rest:
            messages.append({"role": "user", "content": _user_content(rest)})
    body: dict[str, Any] = {"model": req.model, "messages": messages}
    if req.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    **({"description": t.description} if t.description else {}),
                    "parameters": t.parameters or {"type": "object", "properties": {}},
                },
            }
            for t in req.tools
        ]
    choice = req.tool_choice
    if choice is not None:
        body["tool_choice"] = (
            {"type": "function", "function": {"name": choice["name"]}}
            if choice["type"] == "tool"
            else choice["type"]
        )
    if req.parallel_tool_calls is not None and req.tools:
        body["parallel_tool_calls"] = req.parallel_tool_calls
    for name, key in (
        ("max_tokens", "max_completion_tokens"),
        ("temperature", "temperature"),
        ("top_p", "top_p"),
        ("presence_penalty", "presence_penalty"),
        ("frequency_penalty", "frequency_penalty"),
        ("seed", "seed"),
        ("user", "user"),
    ):
        value = getattr(req, name)
        if value is not None:
            body[key] = value
    if req.stop:
        body["stop"] = req.stop
    fmt = req.response_format
    if fmt is not None:
        if fmt["type"] == "json_object":
            body["response_format"] = {"type": "json_object"}
        else:
            spec = {"name": fmt["name"], "schema": fmt["schema"]}
            if fmt.get("strict") is not None:
                spec["strict"] = fmt["strict"]
            body["response_format"] = {"type": "json_schema", "json_schema": spec}
    if req.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def read_response(obj: dict[str, Any]) -> Response:
    choices = obj.get("choices") or [{}]
    choice = choices[0] or {}
    message = choice.get("message") or {}
    parts: list[ir.Part] = []
    text = message.get("content") or message.get("refusal")
    if isinstance(text, str) and text:
        parts.append({"type": "text", "text": text})
    for call in message.get("tool_calls") or []:
        fn = call.get("function") or {}
        parts.append(
            {
                "type": "tool_call",
                "id": call.get("id") or common.new_id("call_"),
                "name": fn.get("name", ""),
                "arguments": fn.get("arguments") or "{}",
            }
        )
    finish = FINISH_IN.get(choice.get("finish_reason"), ir.STOP)
    if message.get("refusal"):
        finish = ir.CONTENT_FILTER
    return Response(
        id=str(obj.get("id") or common.new_id("")),
        model=str(obj.get("model") or ""),
        parts=parts,
        finish=finish,
        usage=wire.usage_from_obj(obj.get("usage")) or Usage(),
    )


class StreamReader:
    """chat.completion.chunk events → common stream events."""

    def __init__(self) -> None:
        self.started = False

    def event(self, obj: Any) -> list[tuple[Any, ...]]:
        if not isinstance(obj, dict):
            return []
        if obj.get("error") is not None:
            return [("error", common.error_message(common.dumps(obj).encode()))]
        out: list[tuple[Any, ...]] = []
        if not self.started:
            self.started = True
            out.append(("start", str(obj.get("id") or ""), str(obj.get("model") or "")))
        for choice in obj.get("choices") or []:
            delta = choice.get("delta") or {}
            text = delta.get("content") or delta.get("refusal")
            if text:
                out.append(("text", text))
            for call in delta.get("tool_calls") or []:
                index = call.get("index", 0)
                fn = call.get("function") or {}
                if call.get("id"):
                    out.append(("tool_start", index, call["id"], fn.get("name") or ""))
                if fn.get("arguments"):
                    out.append(("tool_args", index, fn["arguments"]))
            reason = choice.get("finish_reason")
            if reason:
                out.append(("finish", FINISH_IN.get(reason, ir.STOP), None))
        usage = wire.usage_from_obj(obj.get("usage"))
        if usage is not None:
            out.append(("usage", usage))
        return out
