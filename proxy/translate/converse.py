"""The common form ↔ AWS Bedrock's Converse API (provider side: the models on Bedrock that are
not Anthropic's — Amazon Nova, Meta Llama, Mistral, ... — one request shape for them all).

Content blocks are keyed by kind ({"text"}, {"image"}, {"toolUse"}, {"toolResult"}); images go
inline (Converse takes bytes or S3 locations, not URLs); tool schemas go as JSON Schema under
inputSchema.json, a structured output's schema as JSON text under outputConfig.textFormat. A ConverseStream answer is an AWS event stream whose messages are named by
their event type; proxy.providers.eventstream.EventDecoder hands them over as
{event type: payload}.
"""

from __future__ import annotations

from typing import Any

from pricing.table import Usage
from proxy.providers import bedrock as wire
from proxy.translate import common, ir
from proxy.translate.ir import Request, Response, Untranslatable

NAME = "Bedrock Converse"

FINISH_IN = {
    "end_turn": ir.STOP,
    "tool_use": ir.TOOL_CALLS,
    "max_tokens": ir.LENGTH,
    "model_context_window_exceeded": ir.LENGTH,
    "stop_sequence": ir.STOP_SEQUENCE,
    "guardrail_intervened": ir.CONTENT_FILTER,
    "content_filtered": ir.CONTENT_FILTER,
}
TOOL_CHOICES = {"auto": "auto", "required": "any", "tool": "tool"}
IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp"}
# Common-form field → inferenceConfig field.
INFERENCE = (("max_tokens", "maxTokens"), ("temperature", "temperature"), ("top_p", "topP"))


def _image(part: ir.Part, where: str, target: str) -> dict[str, Any]:
    if "data" not in part:
        raise Untranslatable(f"{where} image URL", target, "Converse takes images inline only")
    image_format = IMAGE_FORMATS.get(part["media_type"])
    if image_format is None:
        raise Untranslatable(f"{where} image", target, "png, jpeg, gif or webp only")
    return {"image": {"format": image_format, "source": {"bytes": part["data"]}}}


def _block(part: ir.Part, where: str, target: str) -> dict[str, Any] | None:
    kind = part["type"]
    if kind == "text":
        return {"text": part["text"]} if part["text"] else None
    if kind == "image":
        return _image(part, where, target)
    if kind == "tool_call":
        args = common.arguments_json(part["arguments"], f"{where} tool call arguments")
        return {"toolUse": {"toolUseId": part["id"], "name": part["name"], "input": args}}
    content = [
        _image(p, f"{where} tool result", target) if p["type"] == "image" else {"text": p["text"]}
        for p in part["content"]
    ]
    result: dict[str, Any] = {"toolUseId": part["id"], "content": content or [{"text": ""}]}
    if part.get("is_error"):
        result["status"] = "error"
    return {"toolResult": result}


def write_request(req: Request, target: str = "bedrock") -> dict[str, Any]:
    for name in ("presence_penalty", "frequency_penalty", "seed", "top_k"):
        if getattr(req, name) is not None:
            raise Untranslatable(name, target, "Converse has no such setting for every model")
    fmt = req.response_format
    if fmt is not None and fmt["type"] != "json_schema":
        raise Untranslatable("response_format", target, "only a JSON schema")
    if req.parallel_tool_calls is False and req.tools:
        raise Untranslatable("parallel_tool_calls", target, "Converse has no such switch")
    messages = []
    for index, message in enumerate(req.messages):
        blocks = [_block(p, f"messages[{index}]", target) for p in message.parts]
        content = [b for b in blocks if b is not None]
        if content:
            messages.append({"role": message.role, "content": content})
    body: dict[str, Any] = {"messages": messages}
    system = [s for s in req.system if s]
    if system:
        body["system"] = [{"text": s} for s in system]
    inference: dict[str, Any] = {}
    for name, key in INFERENCE:
        value = getattr(req, name)
        if value is not None:
            inference[key] = value
    if req.stop:
        inference["stopSequences"] = req.stop
    if inference:
        body["inferenceConfig"] = inference
    if req.tools:
        tools = [
            {
                "toolSpec": {
                    "name": t.name,
                    **({"description": t.description} if t.description else {}),
                    "inputSchema": {"json": t.parameters or {"type": "object", "properties": {}}},
                }
            }
            for t in req.tools
        ]
        body["toolConfig"] = {"tools": tools}
        choice = req.tool_choice
        if choice is not None and choice["type"] == "none":
            raise Untranslatable("tool_choice", target, "Converse cannot forbid tool calls")
        if choice is not None:
            kind = TOOL_CHOICES[choice["type"]]
            body["toolConfig"]["toolChoice"] = {
                kind: {"name": choice["name"]} if kind == "tool" else {}
            }
    if fmt is not None:  # structured output: the schema as JSON text
        definition = {"schema": common.dumps(fmt["schema"])}
        if fmt.get("name"):
            definition["name"] = fmt["name"]
        body["outputConfig"] = {
            "textFormat": {"type": "json_schema", "structure": {"jsonSchema": definition}}
        }
    if req.user:
        body["requestMetadata"] = {"user": req.user[:256]}
    return body


def read_response(obj: dict[str, Any]) -> Response:
    message = (obj.get("output") or {}).get("message") or {}
    parts: list[ir.Part] = []
    for block in message.get("content") or []:
        if not isinstance(block, dict):
            continue
        if isinstance(block.get("text"), str):
            parts.append({"type": "text", "text": block["text"]})
        elif isinstance(block.get("toolUse"), dict):
            use = block["toolUse"]
            parts.append(
                {
                    "type": "tool_call",
                    "id": use.get("toolUseId") or common.new_id("tooluse_"),
                    "name": use.get("name", ""),
                    "arguments": common.dumps(use.get("input") or {}),
                }
            )
    return Response(
        id=common.new_id(""),
        model="",
        parts=parts,
        finish=FINISH_IN.get(obj.get("stopReason"), ir.STOP),
        usage=wire.converse_usage(obj.get("usage")) or Usage(),
    )


class StreamReader:
    """ConverseStream events ({event type: payload}) → common stream events."""

    def __init__(self) -> None:
        self.started = False
        self.tool_blocks: set[int] = set()

    def event(self, obj: Any) -> list[tuple[Any, ...]]:
        if not isinstance(obj, dict):
            return []
        if obj.get("type") == "error":  # an exception message of the stream
            return [("error", common.error_message(common.dumps(obj).encode()))]
        out: list[tuple[Any, ...]] = []
        if not self.started:
            self.started = True
            out.append(("start", common.new_id(""), ""))
        if "contentBlockStart" in obj:
            payload = obj["contentBlockStart"] or {}
            use = (payload.get("start") or {}).get("toolUse")
            if isinstance(use, dict):
                index = payload.get("contentBlockIndex", 0)
                self.tool_blocks.add(index)
                out.append(("tool_start", index, use.get("toolUseId", ""), use.get("name", "")))
        elif "contentBlockDelta" in obj:
            payload = obj["contentBlockDelta"] or {}
            delta = payload.get("delta") or {}
            index = payload.get("contentBlockIndex", 0)
            if isinstance(delta.get("text"), str) and delta["text"]:
                out.append(("text", delta["text"]))
            elif isinstance(delta.get("toolUse"), dict) and index in self.tool_blocks:
                out.append(("tool_args", index, delta["toolUse"].get("input", "")))
        elif "messageStop" in obj:
            reason = (obj["messageStop"] or {}).get("stopReason")
            out.append(("finish", FINISH_IN.get(reason, ir.STOP), None))
        elif "metadata" in obj:
            usage = wire.converse_usage((obj["metadata"] or {}).get("usage"))
            if usage is not None:
                out.append(("usage", usage))
        return out
