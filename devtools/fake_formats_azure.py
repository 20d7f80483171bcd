"""Azure OpenAI's wire format in the fake provider (devtools.fake_provider): its paths, its
`api-version` and `api-key` checks, and the content-filter annotations it adds to OpenAI's
answers (a first stream chunk with empty `choices` and `prompt_filter_results`, the usage chunk
last when `stream_options.include_usage` asks for it).

Paths: `/openai/deployments/{deployment}/chat/completions` and `.../embeddings`, and
`/openai/responses`, each with `?api-version=`; the v1 API `/openai/v1/chat/completions`,
`/openai/v1/responses`, `/openai/v1/embeddings` takes the deployment as `model` and needs no
api-version.
"""

from __future__ import annotations

import re
from typing import Any

from devtools.fake_formats import openai_answer, openai_stream, sse_event

DEPLOYMENT_RE = re.compile(r"^/openai/deployments/([^/]+)/(chat/completions|embeddings)$")
V1_PATHS = {
    "/openai/v1/chat/completions": "/v1/chat/completions",
    "/openai/v1/responses": "/v1/responses",
    "/openai/v1/embeddings": "/v1/embeddings",
}
# The model behind each deployment name the tests use (Azure answers with the model's own
# versioned name, whatever the deployment is called).
MODELS = {"chat-prod": "gpt-4o-mini-2024-07-18", "embed-prod": "text-embedding-3-small"}

_FILTERS = {
    "hate": {"filtered": False, "severity": "safe"},
    "self_harm": {"filtered": False, "severity": "safe"},
    "sexual": {"filtered": False, "severity": "safe"},
    "violence": {"filtered": False, "severity": "safe"},
}


def route(path: str, query: dict[str, str]) -> tuple[str, str, str | None]:
    """(the OpenAI path it answers like, the deployment or '', an error message or None)."""
    found = DEPLOYMENT_RE.match(path)
    if found is not None:
        openai_path, deployment = f"/v1/{found.group(2)}", found.group(1)
    elif path == "/openai/responses":
        openai_path, deployment = "/v1/responses", ""
    elif path in V1_PATHS:
        return V1_PATHS[path], "", None
    else:
        return "", "", "Resource not found"
    if not query.get("api-version"):
        return openai_path, deployment, "Resource not found"  # what Azure answers (404)
    return openai_path, deployment, None


def model_of(deployment: str) -> str:
    return MODELS.get(deployment, deployment)


def chat_answer(body: dict[str, Any], deployment: str) -> dict[str, Any]:
    answer = openai_answer({**body, "model": model_of(deployment or str(body.get("model", "")))})
    answer["prompt_filter_results"] = [{"prompt_index": 0, "content_filter_results": _FILTERS}]
    for choice in answer["choices"]:
        choice["content_filter_results"] = _FILTERS
    return answer


def chat_stream(body: dict[str, Any], deployment: str) -> list[bytes]:
    model = model_of(deployment or str(body.get("model", "")))
    first = sse_event(
        {
            "id": "",
            "object": "",
            "created": 0,
            "model": "",
            "choices": [],
            "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": _FILTERS}],
        }
    )
    return [first, *openai_stream({**body, "model": model})]


def error(status: int, message: str) -> dict[str, Any]:
    return {"error": {"code": str(status), "message": message}}
