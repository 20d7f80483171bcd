"""The common form ↔ Gemini generateContent (provider side: no unified endpoint speaks Gemini).

Gemini's function calls carry no id: the ids the caller sees are made here, and a tool result
coming back names its function by finding the call with that id earlier in the conversation.
Tool schemas and structured output go as JSON Schema (parametersJsonSchema,
responseJsonSchema), not as Gemini's OpenAPI subset.
"""

from __future__ import annotations

import mimetypes
from typing import Any

from pricing.table import Usage
from proxy.providers import gemini as wire
from proxy.translate import common, ir
from proxy.translate.ir import Request, Response, Untranslatable, invalid, tool_names

NAME = "Gemini generateContent"

FINISH_IN = {
    "STOP": ir.STOP,
    "MAX_TOKENS": ir.LENGTH,
    "SAFETY": ir.CONTENT_FILTER,
    "RECITATION": ir.CONTENT_FILTER,
    "BLOCKLIST": ir.CONTENT_FILTER,
    "PROHIBITED_CONTENT": ir.CONTENT_FILTER,
    "SPII": ir.CONTENT_FILTER,
    "IMAGE_SAFETY": ir.CONTENT_FILTER,
}
TOOL_MODES = {"auto": "AUTO", "required": "ANY", "none": "NONE", "tool": "ANY"}
# Common-form field → generationConfig field.
GENERATION = (
    ("max_tokens", "maxOutputTokens"),
    ("temperature", "temperature"),
    ("top_p", "topP"),
    ("top_k", "topK"),
    ("presence_penalty", "presencePenalty"),
    ("frequency_penalty", "frequencyPenalty"),
    ("seed", "seed"),
)


def _image(part: ir.Part) -> dict[str, Any]:
    if "data" in part:
        return {"inlineData": {"mimeType": part["media_type"], "data": part["data"]}}
    mime = mimetypes.guess_type(part["url"].split("?")[0])[0] or "image/jpeg"
    return {"fileData": {"mimeType": mime, "fileUri": part["url"]}}


def _result(part: ir.Part, names: dict[str, str], where: str, target: str) -> dict[str, Any]:
    name = names.get(part["id"])
    if name is None:
        raise invalid(where, f"answers the tool call {part['id']!r}, which no earlier turn made")
    if any(p["type"] != "text" for p in part["content"]):
        raise Untranslatable(f"{where} image", target, "function responses are JSON")
    text = ir.text_of(part["content"])
    key = "error" if part.get("is_error") else "result"
    response: dict[str, Any] = {key: text}
    return {"functionResponse": {"name": name, "response": response}}


def write_request(req: Request, target: str = "gemini") -> dict[str, Any]:
    if req.parallel_tool_calls is False and req.tools:
        raise Untranslatable("parallel_tool_calls", target, "Gemini has no such switch")
    names = tool_names(req.messages)
    contents = []
    for index, message in enumerate(req.messages):
        where = f"messages[{index}]"
        parts = []
        for part in message.parts:
            kind = part["type"]
            if kind == "text":
                if part["text"]:
                    parts.append({"text": part["text"]})
            elif kind == "image":
                parts.append(_image(part))
            elif kind == "tool_call":
                args = common.arguments_json(part["arguments"], f"{where} tool call arguments")
                parts.append({"functionCall": {"name": part["name"], "args": args}})
            else:
                parts.append(_result(part, names, f"{where} tool result", target))
        if parts:
            contents.append(
                {"role": "model" if message.role == "assistant" else "user", "parts": parts}
            )
    body: dict[str, Any] = {"contents": contents}
    system = [s for s in req.system if s]
    if system:
        body["systemInstruction"] = {"parts": [{"text": s} for s in system]}
    if req.tools:
        body["tools"] = [
            {
                "functionDeclarations": [
                    {
                        "name": t.name,
                        **({"description": t.description} if t.description else {}),
                        **({"parametersJsonSchema": t.parameters} if t.parameters else {}),
                    }
                    for t in req.tools
                ]
            }
        ]
    if req.tool_choice is not None:
        config: dict[str, Any] = {"mode": TOOL_MODES[req.tool_choice["type"]]}
        if req.tool_choice["type"] == "tool":
            config["allowedFunctionNames"] = [req.tool_choice["name"]]
        body["toolConfig"] = {"functionCallingConfig": config}
    generation: dict[str, Any] = {}
    for name, key in GENERATION:
        value = getattr(req, name)
        if value is not None:
            generation[key] = value
    if req.stop:
        generation["stopSequences"] = req.stop
    fmt = req.response_format
    if fmt is not None:
        generation["responseMimeType"] = "application/json"
        if fmt["type"] == "json_schema":
            generation["responseJsonSchema"] = fmt["schema"]
    if generation:
        body["generationConfig"] = generation
    return body


def _parts(candidate: dict[str, Any], out: list[ir.Part]) -> None:
    for part in (candidate.get("content") or {}).get("parts") or []:
        if "text" in part and not part.get("thought"):
            out.append({"type": "text", "text": part["text"]})
        elif "functionCall" in part:
            call = part["functionCall"] or {}
            out.append(
                {
                    "type": "tool_call",
                    "id": call.get("id") or common.new_id("call_"),
                    "name": call.get("name", ""),
                    "arguments": common.dumps(call.get("args") or {}),
                }
            )


def _finish(candidate: dict[str, Any], tool_calls: bool) -> str:
    reason = FINISH_IN.get(candidate.get("finishReason"), ir.STOP)
    return ir.TOOL_CALLS if tool_calls and reason == ir.STOP else reason


def read_response(obj: dict[str, Any]) -> Response:
    candidates = obj.get("candidates") or []
    parts: list[ir.Part] = []
    if candidates:
        _parts(candidates[0], parts)
        finish = _finish(candidates[0], any(p["type"] == "tool_call" for p in parts))
    else:  # the prompt itself was blocked (promptFeedback.blockReason)
        finish = ir.CONTENT_FILTER
    return Response(
        id=str(obj.get("responseId") or common.new_id("")),
        model=str(obj.get("modelVersion") or ""),
        parts=parts,
        finish=finish,
        usage=wire.usage_from_obj(obj.get("usageMetadata")) or Usage(),
    )


class StreamReader:
    """streamGenerateContent chunks (alt=sse) → common stream events. A function call arrives
    whole in one chunk: its arguments are one piece."""

    def __init__(self) -> None:
        self.started = False
        self.tools = 0

    def event(self, obj: Any) -> list[tuple[Any, ...]]:
        if not isinstance(obj, dict):
            return []
        if obj.get("error") is not None:
            return [("error", common.error_message(common.dumps(obj).encode()))]
        out: list[tuple[Any, ...]] = []
        if not self.started:
            self.started = True
            response_id = str(obj.get("responseId") or common.new_id(""))
            out.append(("start", response_id, str(obj.get("modelVersion") or "")))
        candidates = obj.get("candidates") or []
        if candidates:
            parts: list[ir.Part] = []
            _parts(candidates[0], parts)
            for part in parts:
                if part["type"] == "text":
                    if part["text"]:
                        out.append(("text", part["text"]))
                else:
                    out.append(("tool_start", self.tools, part["id"], part["name"]))
                    out.append(("tool_args", self.tools, part["arguments"]))
                    self.tools += 1
            if candidates[0].get("finishReason"):
                out.append(("finish", _finish(candidates[0], self.tools > 0), None))
        elif (obj.get("promptFeedback") or {}).get("blockReason"):
            out.append(("finish", ir.CONTENT_FILTER, None))
        usage = wire.usage_from_obj(obj.get("usageMetadata"))
        if usage is not None:
            out.append(("usage", usage))
        return out
