"""Which texts of a request the provider reads, per dialect and endpoint.

`collect_slots(body, dialect, endpoint, scan_system=...)` returns the places (container, key) that
hold text: user, assistant and tool messages, tool results, tool-call arguments (JSON strings are
parsed and their strings visited), text parts of content arrays, system prompts when asked,
Anthropic `system` (string or blocks), Gemini contents[].parts[].text and systemInstruction,
Bedrock Converse messages[].content[] and system blocks.
Images, audio, files and other binary parts are never visited.

Assistant turns are scanned too: the caller got restored values back and resends them in the
next turn; redacting them again gives the same placeholders the provider produced, so the
conversation prefix stays byte-identical (prompt cache) and no original value leaves.
Anthropic `thinking` blocks are the exception: their signature covers the text exactly as the
provider produced it, so they are neither scanned here nor restored in responses
(policies.redaction.restore): the caller sees placeholders there and resends them unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

_TEXT_PART_TYPES = frozenset({"text", "input_text", "output_text", "summary_text", "refusal"})
_SYSTEM_ROLES = frozenset({"system", "developer"})


@dataclass(slots=True)
class Slot:
    """A string at container[key]; `inner` holds the slots of a parsed JSON string."""

    container: Any
    key: Any
    inner: list[Slot] | None = None
    parsed: Any = None
    changed: bool = False


def _text(out: list[Slot], container: Any, key: Any) -> None:
    try:
        value = container[key]
    except (KeyError, IndexError, TypeError):
        return
    if isinstance(value, str) and value:
        out.append(Slot(container, key))


def _deep(out: list[Slot], value: Any) -> None:
    """Every string value inside a JSON object or array (keys are schema, not data)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str):
                _text(out, value, key)
            else:
                _deep(out, item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str):
                _text(out, value, index)
            else:
                _deep(out, item)


def _json_string(out: list[Slot], container: Any, key: Any) -> None:
    """Tool-call arguments: a JSON document in a string. Its strings are visited; when it does
    not parse (a truncated stream, free text), the string is scanned as text."""
    value = container.get(key) if isinstance(container, dict) else None
    if not isinstance(value, str) or not value:
        return
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict | list):
        out.append(Slot(container, key))
        return
    inner: list[Slot] = []
    _deep(inner, parsed)
    if inner:
        out.append(Slot(container, key, inner=inner, parsed=parsed))


def _content(out: list[Slot], holder: dict[str, Any], key: str = "content") -> None:
    """A string, or an array of parts of which the text ones are visited."""
    content = holder.get(key)
    if isinstance(content, str):
        _text(out, holder, key)
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, str):
                _text(out, content, content.index(part))
            elif isinstance(part, dict) and part.get("type") in _TEXT_PART_TYPES:
                _text(out, part, "text" if "text" in part else "refusal")


def openai_chat(body: dict[str, Any], out: list[Slot], scan_system: bool) -> None:
    for message in body.get("messages") or ():
        if not isinstance(message, dict):
            continue
        if message.get("role") in _SYSTEM_ROLES and not scan_system:
            continue
        _content(out, message)
        _text(out, message, "refusal")
        for call in message.get("tool_calls") or ():
            if isinstance(call, dict) and isinstance(call.get("function"), dict):
                _json_string(out, call["function"], "arguments")
            elif isinstance(call, dict) and isinstance(call.get("custom"), dict):
                _text(out, call["custom"], "input")
        if isinstance(message.get("function_call"), dict):
            _json_string(out, message["function_call"], "arguments")


def openai_responses(body: dict[str, Any], out: list[Slot], scan_system: bool) -> None:
    if scan_system:
        _text(out, body, "instructions")
    items = body.get("input")
    if isinstance(items, str):
        _text(out, body, "input")
        return
    for item in items or ():
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if "role" in item or kind == "message":
            if item.get("role") in _SYSTEM_ROLES and not scan_system:
                continue
            _content(out, item)
        elif kind == "function_call":
            _json_string(out, item, "arguments")
        elif kind in ("function_call_output", "custom_tool_call_output"):
            _content(out, item, "output")
        elif kind == "custom_tool_call":
            _text(out, item, "input")
        elif kind == "reasoning":
            for part in item.get("summary") or ():
                if isinstance(part, dict):
                    _text(out, part, "text")


def openai_embeddings(body: dict[str, Any], out: list[Slot], scan_system: bool) -> None:
    value = body.get("input")
    if isinstance(value, str):
        _text(out, body, "input")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str):
                _text(out, value, index)


def _anthropic_blocks(out: list[Slot], holder: dict[str, Any], key: str) -> None:
    blocks = holder.get(key)
    if isinstance(blocks, str):
        _text(out, holder, key)
        return
    for block in blocks or ():
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            _text(out, block, "text")
        elif kind in ("tool_use", "server_tool_use"):
            _deep(out, block.get("input"))
        elif kind in ("tool_result", "search_result"):
            _anthropic_blocks(out, block, "content")
        elif kind == "document" and isinstance(block.get("source"), dict):
            if block["source"].get("type") == "text":
                _text(out, block["source"], "data")
            elif block["source"].get("type") == "content":
                _anthropic_blocks(out, block["source"], "content")


def anthropic_messages(body: dict[str, Any], out: list[Slot], scan_system: bool) -> None:
    if scan_system:
        _anthropic_blocks(out, body, "system")
    for message in body.get("messages") or ():
        if isinstance(message, dict):
            _anthropic_blocks(out, message, "content")


def _gemini_parts(out: list[Slot], content: Any) -> None:
    if not isinstance(content, dict):
        return
    for part in content.get("parts") or ():
        if not isinstance(part, dict):
            continue
        _text(out, part, "text")
        for name in ("functionCall", "function_call"):
            if isinstance(part.get(name), dict):
                _deep(out, part[name].get("args"))
        for name in ("functionResponse", "function_response"):
            if isinstance(part.get(name), dict):
                _deep(out, part[name].get("response"))


def gemini_generate(body: dict[str, Any], out: list[Slot], scan_system: bool) -> None:
    request = body.get("generateContentRequest") or body.get("generate_content_request")
    if isinstance(request, dict):  # countTokens wraps a whole request
        gemini_generate(request, out, scan_system)
    if scan_system:
        _gemini_parts(out, body.get("systemInstruction") or body.get("system_instruction"))
    for content in body.get("contents") or ():
        _gemini_parts(out, content)


def gemini_embed(body: dict[str, Any], out: list[Slot], scan_system: bool) -> None:
    """embedContent (`content`) and batchEmbedContents (`requests[].content`)."""
    _gemini_parts(out, body.get("content"))
    for request in body.get("requests") or ():
        if isinstance(request, dict):
            _gemini_parts(out, request.get("content"))


def _converse_blocks(out: list[Slot], blocks: Any) -> None:
    for block in blocks or ():
        if not isinstance(block, dict):
            continue
        _text(out, block, "text")
        if isinstance(block.get("toolUse"), dict):
            _deep(out, block["toolUse"].get("input"))
        if isinstance(block.get("toolResult"), dict):
            for item in block["toolResult"].get("content") or ():
                if isinstance(item, dict):
                    _text(out, item, "text")
                    _deep(out, item.get("json"))
        document = block.get("document")
        if isinstance(document, dict) and isinstance(document.get("source"), dict):
            _text(out, document["source"], "text")


def bedrock_converse(body: dict[str, Any], out: list[Slot], scan_system: bool) -> None:
    """Bedrock Converse: messages[].content[] blocks (text, toolUse input, toolResult content,
    text documents) and `system` blocks."""
    if scan_system:
        _converse_blocks(out, body.get("system"))
    for message in body.get("messages") or ():
        if isinstance(message, dict):
            _converse_blocks(out, message.get("content"))


def bedrock_count_tokens(body: dict[str, Any], out: list[Slot], scan_system: bool) -> None:
    """Bedrock CountTokens: a Converse request, or an InvokeModel body (Anthropic Messages; the
    proxy has decoded its base64 before the gates run)."""
    request = body.get("input")
    if not isinstance(request, dict):
        return
    if isinstance(request.get("converse"), dict):
        bedrock_converse(request["converse"], out, scan_system)
    invoke = request.get("invokeModel")
    if isinstance(invoke, dict) and isinstance(invoke.get("body"), dict):
        anthropic_messages(invoke["body"], out, scan_system)


_WALKERS = {
    ("bedrock", "Converse"): bedrock_converse,
    ("bedrock", "CountTokens"): bedrock_count_tokens,
    ("bedrock", "ConverseStream"): bedrock_converse,
    ("openai", "ChatCompletions"): openai_chat,
    ("openai", "Responses"): openai_responses,
    ("openai", "ResponsesCompact"): openai_responses,
    ("openai", "ResponsesInputTokens"): openai_responses,
    ("openai", "Embeddings"): openai_embeddings,
    ("anthropic", "Messages"): anthropic_messages,
    ("anthropic", "CountTokens"): anthropic_messages,
    ("gemini", "GenerateContent"): gemini_generate,
    ("gemini", "StreamGenerateContent"): gemini_generate,
    ("gemini", "CountTokens"): gemini_generate,
    ("gemini", "EmbedContent"): gemini_embed,
    ("gemini", "BatchEmbedContents"): gemini_embed,
}


def has_walker(dialect: str, endpoint: str) -> bool:
    return (dialect, endpoint) in _WALKERS


def collect_slots(body: Any, dialect: str, endpoint: str, *, scan_system: bool) -> list[Slot]:
    """The text slots of `body`; [] for an endpoint that carries no prompt (models lists)."""
    walker = _WALKERS.get((dialect, endpoint))
    if walker is None or not isinstance(body, dict):
        return []
    out: list[Slot] = []
    walker(body, out, scan_system)
    return out


def flatten(slots: list[Slot]) -> list[Slot]:
    """Leaf slots (the strings to scan), JSON-string slots replaced by their inner slots."""
    leaves: list[Slot] = []
    for slot in slots:
        if slot.inner is None:
            leaves.append(slot)
        else:
            leaves.extend(slot.inner)
    return leaves


def write_back(slots: list[Slot]) -> None:
    """Re-encode the JSON-string slots whose inner strings were rewritten (compact, key order
    and non-ASCII kept: the same input always gives the same bytes)."""
    for slot in slots:
        if slot.inner is not None and any(leaf.changed for leaf in slot.inner):
            slot.container[slot.key] = json.dumps(
                slot.parsed, ensure_ascii=False, separators=(",", ":")
            )
