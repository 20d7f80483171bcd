"""Google Vertex AI wire format: Anthropic models (rawPredict / streamRawPredict, the Anthropic
Messages shape with anthropic_version vertex-2023-10-16) and Gemini (generateContent,
streamGenerateContent, countTokens) under publishers/{anthropic,google}/models.

Paths mirror aiplatform's under `/vertex` (`/vertex/v1/projects/{project}/locations/{location}/
publishers/...`), so `anthropic.AnthropicVertex(base_url=<gateway>/vertex/v1)` and google-genai
(`vertexai=True`, http_options base_url `<gateway>/vertex`) reach the gateway unchanged, with the
gateway key as their access token. Upstream, an OAuth access token minted from the workspace's
VERTEX_SERVICE_ACCOUNT_JSON (proxy/tokens.py: cached per secret, refreshed ahead of expiry in
the background) authenticates; the origin follows the location in the path.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import orjson

from hotpath.errors import ProviderSecretMissing
from pricing.table import Usage
from proxy.providers import anthropic, gemini
from proxy.tokens import ACCESS_TOKENS

if TYPE_CHECKING:
    from hotpath.gates import ProxyCall
    from proxy.auth import UpstreamSecret

PROVIDER = "vertex"
SECRET_NAME = "VERTEX_SERVICE_ACCOUNT_JSON"
ANTHROPIC_VERSION = "vertex-2023-10-16"
_ANTHROPIC_ENDPOINTS = frozenset({"Messages"})
LOCATION_NAME = "VERTEX_LOCATION"
DEFAULT_LOCATION = "global"
_PROJECT_RE = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_MODEL_NAME = re.compile(r"^[A-Za-z0-9._@-]{1,200}$")  # as proxy.unified takes a Vertex model
_GEMINI_LISTED = re.compile(r"^gemini-")
_NOT_GENERATE_CONTENT = re.compile(r"(^|-)(embedding|live)(-|$)")


def credentials(secrets: dict[str, UpstreamSecret]) -> UpstreamSecret:
    secret = secrets.get(SECRET_NAME)
    if secret is None:
        raise ProviderSecretMissing(
            f"this workspace has no {SECRET_NAME} provider secret (a service account key "
            "file): a workspace admin can set it under Settings → Integrations"
        )
    return secret


def is_anthropic(model: str) -> bool:
    """Whether a Vertex model is Anthropic's (publisher anthropic, rawPredict): Claude models;
    the others are Google's (generateContent)."""
    return model.startswith("claude")


def unified_prefix(secret: UpstreamSecret, secrets: dict[str, UpstreamSecret]) -> str:
    """The path a unified call's model path goes under: /v1/projects/PROJECT/locations/LOCATION,
    the project the service account's (project_id), the location the workspace's
    VERTEX_LOCATION (default global); 424 when the key file names no project."""
    try:
        project = orjson.loads(secret.secret).get("project_id")
    except (orjson.JSONDecodeError, AttributeError):
        project = None
    if not isinstance(project, str) or not _PROJECT_RE.match(project):
        raise ProviderSecretMissing(
            f"this workspace's {SECRET_NAME} names no project_id (the Google Cloud project to "
            "call Vertex AI in): a workspace admin can set the service account's key file "
            "under Settings → Integrations"
        )
    return f"/v1/projects/{project}/locations/{location(secrets)}"


def location(secrets: dict[str, UpstreamSecret]) -> str:
    """The workspace's VERTEX_LOCATION (default global)."""
    found = secrets.get(LOCATION_NAME)
    return found.secret if found else DEFAULT_LOCATION


def unified_body(body: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """A unified endpoint's Anthropic body shaped in place as rawPredict takes it: the
    anthropic_version Vertex names, no model (it is in the path); the anthropic-beta flags of
    `headers` go on as the header. A Gemini body goes as written."""
    if "messages" not in body or "contents" in body:
        return []
    body.setdefault("anthropic_version", ANTHROPIC_VERSION)
    body.pop("model", None)
    betas = [v.decode("latin-1") for k, v in headers if k == b"anthropic-beta" and v.strip()]
    return [("anthropic-beta", ",".join(betas))] if betas else []


def default_base_url(secret: UpstreamSecret, upstream_path: str) -> str:
    """aiplatform's origin for the location in the path (/v1/projects/P/locations/L/...)."""
    return origin(upstream_path.split("/")[5])


def origin(location: str) -> str:
    """aiplatform's origin for a location: the global endpoint, a multi-region's or a
    region's."""
    if location == "global":
        return "https://aiplatform.googleapis.com"
    if location in ("us", "eu"):
        return f"https://aiplatform.{location}.rep.googleapis.com"
    return f"https://{location}-aiplatform.googleapis.com"


# The Model Garden catalogue, for the unified GET /v1/models: publishers.models.list (v1beta1;
# v1 has no list method), one publisher at a time, at the workspace's location's origin, paged
# by nextPageToken. Only the publishers the unified endpoints call.
MODEL_LIST_PUBLISHERS = ("google", "anthropic")
MODEL_LIST_PAGE_SIZE = 1000  # (the service may answer fewer: the token says when more follow)
MODEL_LIST_MAX_PAGES = 20


def model_list_path(publisher: str, page_token: str = "") -> str:
    query = {"pageSize": str(MODEL_LIST_PAGE_SIZE)}
    if page_token:
        query["pageToken"] = page_token
    return f"/v1beta1/publishers/{publisher}/models?{urlencode(query)}"


def listed_models(publisher: str, obj: Any) -> tuple[list[str], str]:
    """(the callable models of one ListPublisherModels page, its nextPageToken). A model is
    named as the unified endpoints take it after `vertex/`: Google's Gemini models by their
    name (not their embedding or Live API models: generateContent does not serve them), and
    Anthropic's Claude models with the version rawPredict is called with (`name@versionId`,
    claude-sonnet-4-5@20250929) unless the version is `default`. Other families (Imagen,
    Gemma, Llama...) are left out: the unified endpoints do not call them."""
    if not isinstance(obj, dict):
        return [], ""
    prefix = f"publishers/{publisher}/models/"
    out = []
    for model in obj.get("publisherModels") or []:
        name = model.get("name") if isinstance(model, dict) else None
        if not isinstance(name, str) or not name.startswith(prefix):
            continue
        name = name.removeprefix(prefix)
        if publisher == "anthropic":
            if not is_anthropic(name):
                continue
            version = model.get("versionId")
            if isinstance(version, str) and version and version != "default" and "@" not in name:
                name = f"{name}@{version}"
        elif not _GEMINI_LISTED.match(name) or _NOT_GENERATE_CONTENT.search(name):
            continue
        if _MODEL_NAME.match(name):
            out.append(name)
    token = obj.get("nextPageToken")
    return out, token if isinstance(token, str) else ""


def price_name(model: str) -> str:
    """Vertex names Anthropic versions with `@` (claude-sonnet-4-5@20250929): priced as the
    model."""
    return model.partition("@")[0]


def prepare_call(call: ProxyCall, headers: list[tuple[bytes, bytes]]) -> None:
    """An Anthropic body as Vertex takes it: anthropic_version set, no model (it is in the path;
    count-tokens keeps it)."""
    body = call.body
    if body is None or call.dialect != "anthropic":
        return
    if "anthropic_version" not in body:
        body["anthropic_version"] = ANTHROPIC_VERSION
        call.body_changed = True
    if call.endpoint == "Messages" and "model" in body:
        del body["model"]
        call.body_changed = True


async def authorize(
    secret: UpstreamSecret,
    method: str,
    url: str,
    headers: list[tuple[str, str]],
    body: bytes,
) -> list[tuple[str, str]]:
    token = await ACCESS_TOKENS.token(secret.secret)
    return [*headers, ("Authorization", f"Bearer {token}")]


def error_body(status: int, message: str) -> bytes:
    """Google's error envelope (what Vertex answers in, for either publisher)."""
    return gemini.error_body(status, message)


def stream_error_event(endpoint: str, message: str) -> bytes:
    if endpoint in _ANTHROPIC_ENDPOINTS:
        return anthropic.stream_error_event(endpoint, message)
    return gemini.stream_error_event(endpoint, message)


def prepare_body(endpoint: str, body: dict[str, Any], *, stream: bool) -> bool:
    """Nothing to add: both publishers report usage in every answer."""
    return False


def usage_from_body(endpoint: str, obj: Any) -> Usage | None:
    if endpoint in _ANTHROPIC_ENDPOINTS:
        return anthropic.usage_from_body(endpoint, obj)
    if endpoint == "CountTokens":
        return None
    return gemini.usage_from_body(endpoint, obj)


def usage_from_event(endpoint: str, obj: Any, current: Usage | None) -> Usage | None:
    if endpoint in _ANTHROPIC_ENDPOINTS:
        return anthropic.usage_from_event(endpoint, obj, current)
    return gemini.usage_from_event(endpoint, obj, current)
