"""Wire formats of the fake provider's secondary endpoints: stored OpenAI responses (retrieve,
delete, cancel, input items), compaction, input-token counts, one model by id in each dialect,
and Gemini embeddings (devtools.fake_provider routes them).
"""

from __future__ import annotations

import time
from typing import Any

from devtools.fake_formats import tokens_of

# --- OpenAI Responses: what the store keeps and returns ----------------------------------------


def input_items(body: dict[str, Any], response_id: str) -> list[dict[str, Any]]:
    """The input of a create request as the ResponseItem list `input_items` returns (newest
    first, as the API lists them by default)."""
    given = body.get("input")
    if isinstance(given, str):
        given = [{"role": "user", "content": given}]
    items: list[dict[str, Any]] = []
    for n, item in enumerate(given if isinstance(given, list) else []):
        if not isinstance(item, dict):
            continue
        if "role" in item and item.get("type", "message") == "message":
            content = item.get("content")
            if isinstance(content, str):
                content = [{"type": "input_text", "text": content}]
            items.append(
                {
                    "id": item.get("id") or f"msg_{response_id}_{n}",
                    "type": "message",
                    "role": item["role"],
                    "status": "completed",
                    "content": content or [],
                }
            )
        else:
            items.append({"id": item.get("id") or f"item_{response_id}_{n}", **item})
    return list(reversed(items))


def item_list(items: list[dict[str, Any]], *, limit: int, after: str | None) -> dict[str, Any]:
    """A cursor page of `items` (`after` an item id), as the list endpoints answer."""
    start = 0
    if after:
        ids = [i["id"] for i in items]
        start = ids.index(after) + 1 if after in ids else len(items)
    page = items[start : start + limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else "",
        "last_id": page[-1]["id"] if page else "",
        "has_more": start + limit < len(items),
    }


def deleted(response_id: str) -> dict[str, Any]:
    return {"id": response_id, "object": "response", "deleted": True}


def input_tokens(body: dict[str, Any]) -> dict[str, Any]:
    """POST /v1/responses/input_tokens."""
    counted = {k: body.get(k) for k in ("input", "instructions", "tools") if body.get(k)}
    return {"object": "response.input_tokens", "input_tokens": tokens_of(counted)}


def compacted(body: dict[str, Any]) -> dict[str, Any]:
    """POST /v1/responses/compact: the user messages, then one opaque compaction item, with
    the usage of the pass (the compaction is billed like a response)."""
    users = [
        {**item, "id": item.get("id") or f"msg_compact_{n}", "status": "completed"}
        for n, item in enumerate(input_items(body, "compact")[::-1])
        if item.get("role") == "user"
    ]
    summary = f"compacted {len(users)} user message(s)"
    p, c = tokens_of(body.get("input")), max(1, len(summary) // 4)
    return {
        "id": "resp_compact1",
        "object": "response.compaction",
        "created_at": int(time.time()),
        "output": [
            *users,
            {
                "type": "compaction",
                "id": "cmp_fake1",
                "encrypted_content": "gAAAA-fake-" + summary.replace(" ", "-"),
            },
        ],
        "usage": {
            "input_tokens": p,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": c,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": p + c,
        },
    }


# --- One model by id --------------------------------------------------------------------------


def openai_model(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": 1700000000, "owned_by": "fake"}


def anthropic_model(model: str) -> dict[str, Any]:
    return {
        "type": "model",
        "id": model,
        "display_name": model,
        "created_at": "2025-01-01T00:00:00Z",
    }


def gemini_model(model: str, version: str) -> dict[str, Any]:
    embedding = "embedding" in model
    return {
        "name": f"models/{model}",
        "baseModelId": model,
        "version": version,
        "displayName": model,
        "description": f"fake {model}",
        "inputTokenLimit": 2048 if embedding else 1048576,
        "outputTokenLimit": 1 if embedding else 65536,
        "supportedGenerationMethods": ["embedContent"]
        if embedding
        else ["generateContent", "countTokens"],
    }


# --- Gemini embeddings --------------------------------------------------------------------------


def _content_text(content: Any) -> str:
    if not isinstance(content, dict):
        return ""
    return " ".join(
        str(p.get("text", "")) for p in content.get("parts") or () if isinstance(p, dict)
    )


def _vector(text: str, size: int) -> list[float]:
    return [round(((len(text) + k) % 17) / 17, 4) for k in range(size)]


def _dimensions(request: dict[str, Any]) -> int:
    size = request.get("outputDimensionality") or request.get("output_dimensionality")
    return size if isinstance(size, int) and 0 < size <= 64 else 8


def gemini_embed(body: dict[str, Any]) -> dict[str, Any]:
    """models/{model}:embedContent: one embedding, with the optional usageMetadata."""
    text = _content_text(body.get("content"))
    tokens = max(1, len(text) // 4)
    return {
        "embedding": {"values": _vector(text, _dimensions(body))},
        "usageMetadata": {"promptTokenCount": tokens, "totalTokenCount": tokens},
    }


def gemini_batch_embed(body: dict[str, Any]) -> dict[str, Any]:
    """models/{model}:batchEmbedContents: one embedding per request, in order."""
    requests = [r for r in body.get("requests") or () if isinstance(r, dict)]
    texts = [_content_text(r.get("content")) for r in requests]
    tokens = sum(max(1, len(t) // 4) for t in texts)
    return {
        "embeddings": [
            {"values": _vector(t, _dimensions(r))} for t, r in zip(texts, requests, strict=True)
        ],
        "usageMetadata": {"promptTokenCount": tokens, "totalTokenCount": tokens},
    }
