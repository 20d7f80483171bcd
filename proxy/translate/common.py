"""Helpers shared by the API modules: data URLs, JSON arguments, ids, provider error bodies."""

from __future__ import annotations

import os
from typing import Any

import orjson

from hotpath.errors import UpstreamUnreachable
from proxy.translate.ir import invalid


def new_id(prefix: str) -> str:
    return prefix + os.urandom(12).hex()


def image_from_url(url: Any, where: str) -> dict[str, Any]:
    """An image part from a URL, a `data:<type>;base64,<data>` URL becoming an inline image."""
    if not isinstance(url, str) or not url:
        raise invalid(where, "must be an image URL or a data: URL")
    if url.startswith("data:"):
        head, sep, data = url[5:].partition(",")
        media_type, _, encoding = head.partition(";")
        if not sep or encoding != "base64" or not media_type:
            raise invalid(where, "must be a data:<media type>;base64,<data> URL")
        return {"type": "image", "media_type": media_type, "data": data}
    return {"type": "image", "url": url}


def data_url(part: dict[str, Any]) -> str:
    """An image part as a URL (inline images as data: URLs)."""
    if "url" in part:
        return part["url"]
    return f"data:{part['media_type']};base64,{part['data']}"


def arguments_json(arguments: Any, where: str) -> Any:
    """A tool call's arguments (JSON text) as a JSON value; 400 naming the field otherwise."""
    if not arguments:
        return {}
    try:
        return orjson.loads(arguments)
    except (orjson.JSONDecodeError, TypeError):
        raise invalid(where, "must be a JSON object in text") from None


def provider_arguments(value: Any) -> Any:
    """A provider's tool arguments text as JSON (a provider's own fault when it is not)."""
    if not value:
        return {}
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        raise UpstreamUnreachable(
            "the provider answered a tool call whose arguments are not JSON"
        ) from None


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def error_message(data: bytes) -> str:
    """The message of any provider's error body (OpenAI, Anthropic and Google envelopes)."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return data[:300].decode("utf-8", "replace") or "the provider answered an error"
    if isinstance(obj, list) and obj:
        obj = obj[0]
    if isinstance(obj, dict):
        error = obj.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"]
        if isinstance(error, str):
            return error
        if isinstance(obj.get("message"), str):
            return obj["message"]
    return "the provider answered an error"


def text_or_parts(content: Any, where: str, allowed: tuple[str, ...]) -> list[dict[str, Any]]:
    """Content given as a string or a list of typed parts, as a list of parts (dicts)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise invalid(where, "must be a string or a list of content parts")
    for index, part in enumerate(content):
        if not isinstance(part, dict):
            raise invalid(f"{where}[{index}]", "must be an object")
    return content
