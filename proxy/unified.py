"""The unified endpoints: one API shape in (Chat Completions, Responses, Messages), any
provider's model out, named `PROVIDER/MODEL` (openai/, anthropic/, gemini/ or google/,
azure/, bedrock/, vertex/, custom/NAME/).

`resolve` turns the caller's model into the provider call: the provider, its model, the
provider's route (path, endpoint) and, when the caller's API is not the provider's own, the
Translation that re-expresses request, answer and stream (proxy.translate). Everything else —
keys, gates, usage, cost, tracing — is the native path's (proxy.app).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from hotpath.errors import BadRequest
from model_routes.snapshot import WorkspaceRoutes
from proxy.providers import bedrock, vertex
from proxy.routing import CUSTOM_NAME, Route, custom_secret
from proxy.translate import NATIVE, CountTranslation, Passthrough, Translation

# The model's prefix → the provider (dialect) serving it.
PROVIDERS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "gemini",
    "google": "gemini",
    "azure": "azure",  # the workspace's Azure OpenAI resource (its v1 API)
    "bedrock": "bedrock",  # AWS Bedrock: Claude by InvokeModel, the others by Converse
    "vertex": "vertex",  # Claude and Gemini on Google Vertex AI
}
MODEL_FORM = (
    "PROVIDER/MODEL (openai/…, anthropic/…, gemini/… or google/…, azure/…, bedrock/…, "
    "vertex/…; custom/NAME/… for a custom provider)"
)
# Headers of the caller's own API, not sent on when its call is translated for another provider.
CALLER_API_HEADERS = ("anthropic-", "openai-", "x-stainless-", "x-goog-", "content-type")
_GEMINI_MODEL = re.compile(r"^[A-Za-z0-9._-]+$")
_VERTEX_MODEL = re.compile(r"^[A-Za-z0-9._@-]+$")
_BEDROCK_MODEL = re.compile(r"^[A-Za-z0-9._:/@+-]+$")  # as the native path's (an ARN: slashes)
_CUSTOM_NAME = re.compile(rf"^{CUSTOM_NAME}$")

_CHAT = Route("openai", "ChatCompletions", "/v1/chat/completions")
_RESPONSES = Route("openai", "Responses", "/v1/responses")
_MESSAGES = Route("anthropic", "Messages", "/v1/messages")
_ANTHROPIC_COUNT = Route("anthropic", "CountTokens", "/v1/messages/count_tokens")
_OPENAI_COUNT = Route("openai", "ResponsesInputTokens", "/v1/responses/input_tokens")
# Azure OpenAI's v1 API: the deployment in the body's model, no api-version (proxy.providers.azure).
_AZURE_CHAT = Route("azure", "ChatCompletions", "/openai/v1/chat/completions", shape="openai")
_AZURE_RESPONSES = Route("azure", "Responses", "/openai/v1/responses", shape="openai")


@dataclass(slots=True)
class Target:
    """One provider call a unified request becomes."""

    provider: str  # openai | anthropic | gemini
    model: str  # the provider's own model name
    label: str  # the model as the caller named it
    route: Route  # the provider's route: endpoint and path (query included)
    # None: the provider's own API, as the caller sent it
    translation: Translation | CountTranslation | Passthrough | None
    params: dict[str, Any] = field(default_factory=dict)  # a route's overrides of the request
    secret: str = ""  # "custom/NAME" for a custom provider (proxy.routing.Route.secret)


@dataclass(slots=True)
class Plan:
    """The provider calls of one unified request, tried in order (a route's chain), and what
    happened to those that failed before answering."""

    targets: list[Target]
    route: str = ""  # the route's name when the model named one (or matched its alias)
    fallback_on: frozenset[str] = frozenset()
    index: int = 0  # the candidate being called
    attempts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def current(self) -> Target:
        return self.targets[self.index]

    @property
    def translation(self) -> Translation | CountTranslation | Passthrough | None:
        return self.targets[self.index].translation

    def falls_back(self, status: int | None = None, failure: str = "") -> bool:
        """Whether a failure before the first byte (an upstream `status`, or "timeout" /
        "connect") moves on to the next candidate."""
        if self.index >= len(self.targets) - 1:
            return False
        if failure:
            return failure in self.fallback_on
        if status == 429:
            return "429" in self.fallback_on
        return status is not None and status >= 500 and "5xx" in self.fallback_on


def split_model(model: Any) -> tuple[str, str]:
    """(prefix, name) of `provider/model`; 400 naming the expected form otherwise."""
    if not isinstance(model, str) or not model:
        raise BadRequest(f"`model` is required: {MODEL_FORM}")
    prefix, sep, name = model.partition("/")
    if not sep or not name or prefix not in (*PROVIDERS, "route", "custom"):
        raise BadRequest(
            f"`model` must be {MODEL_FORM} or route/NAME on this endpoint, not {model!r}"
        )
    return prefix, name


def provider_route(api: str, provider: str, model: str, stream: bool) -> Route:
    if provider in CLOUDS:
        return CLOUDS[provider](api, model, stream)
    if provider == "gemini":
        if not _GEMINI_MODEL.match(model):
            raise BadRequest(f"`model`: {model!r} is not a Gemini model name")
        action = "streamGenerateContent?alt=sse" if stream else "generateContent"
        endpoint = "StreamGenerateContent" if stream else "GenerateContent"
        if api == "count_tokens":
            action, endpoint = "countTokens", "CountTokens"
        return Route("gemini", endpoint, f"/v1beta/models/{model}:{action}", model=model)
    if provider == "anthropic":
        return _ANTHROPIC_COUNT if api == "count_tokens" else _MESSAGES
    if provider == "azure":
        if api == "count_tokens":
            raise BadRequest("Azure OpenAI models cannot count tokens on this endpoint")
        return _AZURE_RESPONSES if api == "responses" else _AZURE_CHAT
    if api == "count_tokens":
        return _OPENAI_COUNT
    return _RESPONSES if api == "responses" else _CHAT


def _bedrock_route(api: str, model: str, stream: bool) -> Route:
    """A model on Bedrock: Claude through InvokeModel (its Anthropic Messages body), the others
    (Amazon Nova, Meta Llama, Mistral, ...) through Converse. The model id as the native path
    takes it: a foundation model, a cross-region inference profile (us., eu., global. ...)
    or an ARN naming either."""
    if not _BEDROCK_MODEL.match(model) or ".." in model.split("/"):
        raise BadRequest(f"`model`: {model!r} is not a Bedrock model id")
    # the model id percent-encoded as one path segment, as the AWS SDKs send it
    quoted = quote(model, safe="")
    shape = "anthropic" if bedrock.is_anthropic(model) else "converse"
    if api == "count_tokens":
        path = f"/model/{quoted}/count-tokens"
        return Route("bedrock", "CountTokens", path, model=model, shape=shape)
    if shape == "anthropic":
        action = "invoke-with-response-stream" if stream else "invoke"
        return Route(
            "bedrock", "Messages", f"/model/{quoted}/{action}", model=model, shape="anthropic"
        )
    action, endpoint = ("converse-stream", "ConverseStream") if stream else ("converse", "Converse")
    return Route("bedrock", endpoint, f"/model/{quoted}/{action}", model=model, shape="converse")


def _vertex_route(api: str, model: str, stream: bool) -> Route:
    """Claude (publisher anthropic, rawPredict) or Gemini (publisher google) on Vertex AI: the
    path below /v1/projects/PROJECT/locations/LOCATION."""
    if not _VERTEX_MODEL.match(model):
        raise BadRequest(f"`model`: {model!r} is not a Vertex AI model name")
    if api == "count_tokens":
        if vertex.is_anthropic(model):  # (the model is in the body)
            path = "/publishers/anthropic/models/count-tokens:rawPredict"
            return Route("vertex", "CountTokens", path, model=model, shape="anthropic")
        path = f"/publishers/google/models/{model}:countTokens"
        return Route("vertex", "CountTokens", path, model=model, shape="gemini")
    if vertex.is_anthropic(model):
        action = "streamRawPredict" if stream else "rawPredict"
        path = f"/publishers/anthropic/models/{model}:{action}"
        return Route("vertex", "Messages", path, model=model, shape="anthropic")
    action = "streamGenerateContent?alt=sse" if stream else "generateContent"
    endpoint = "StreamGenerateContent" if stream else "GenerateContent"
    path = f"/publishers/google/models/{model}:{action}"
    return Route("vertex", endpoint, path, model=model, shape="gemini")


# Cloud providers: the route of a model, and the API its body is written in (Route.shape).
CLOUDS = {"bedrock": _bedrock_route, "vertex": _vertex_route}


def target(
    api: str,
    provider: str,
    model: str,
    label: str,
    stream: bool,
    params: dict[str, Any] | None = None,
    betas: str = "",
) -> Target:
    route = provider_route(api, provider, model, stream)
    translation: Translation | CountTranslation | Passthrough | None = None
    if provider in CLOUDS:
        if api == "count_tokens":
            translation = CountTranslation(provider, model, route.shape, betas)
        elif api == "messages" and route.shape == "anthropic":  # Claude: the caller's own API
            translation = Passthrough(provider, model, betas)
        else:
            translation = Translation(api, provider, model, label, wire=route.shape)
        return Target(provider, model, label, route, translation, params or {})
    if api == "count_tokens":
        if provider != "anthropic":
            translation = CountTranslation(provider, model)
    elif (api, provider) not in NATIVE:
        translation = Translation(api, provider, model, label)
    return Target(provider, model, label, route, translation, params or {})


def custom_target(api: str, name: str, label: str, params: dict[str, Any] | None = None) -> Target:
    """`custom/PROVIDER/MODEL`: a workspace's custom provider, which speaks Chat Completions
    (Responses and Messages callers are translated; the proxy looks the provider up in the
    workspace)."""
    provider, sep, model = name.partition("/")
    if not sep or not model or not _CUSTOM_NAME.match(provider):
        raise BadRequest(
            f"`model` must be custom/NAME/MODEL for a custom provider, not 'custom/{name}'"
        )
    if api not in ("chat", "responses", "messages"):
        raise BadRequest("custom providers cannot count tokens: they speak Chat Completions only")
    translation = None if api == "chat" else Translation(api, "openai", model, label)
    route = Route("openai", "ChatCompletions", "/chat/completions", secret=custom_secret(provider))
    return Target("openai", model, label, route, translation, params or {}, secret=route.secret)


def plan_target(
    api: str,
    prefix: str,
    name: str,
    label: str,
    stream: bool,
    params: dict[str, Any] | None = None,
    betas: str = "",
) -> Target:
    """The provider call of one `PROVIDER/MODEL` (the model, or one candidate of a route)."""
    if prefix == "custom":
        return custom_target(api, name, label, params)
    return target(api, PROVIDERS[prefix], name, label, stream, params, betas)


def resolve(
    api: str,
    body: dict[str, Any],
    stream: bool,
    routes: WorkspaceRoutes | None,
    betas: str = "",
) -> Plan:
    """The provider call(s) for a unified request, in the order they are tried: the model
    itself, or the chain of the route it names (route/NAME, or a name matching an alias).
    `betas`: the caller's anthropic-beta header (Claude on a cloud provider takes them in
    its own way)."""
    model = body.get("model")
    spec = routes.aliased(model) if routes and isinstance(model, str) and "/" not in model else None
    if spec is None:
        prefix, name = split_model(model)
        if prefix != "route":
            return Plan([plan_target(api, prefix, name, str(model), stream, betas=betas)])
        spec = routes.routes.get(name) if routes else None
        if spec is None:
            raise BadRequest(f"`model`: this workspace has no route named {name!r}")
    targets = []
    for candidate, params in spec.candidates:
        prefix, name = split_model(candidate)
        targets.append(plan_target(api, prefix, name, str(model), stream, params, betas))
    return Plan(targets, route=spec.name, fallback_on=spec.fallback_on)


def _ids(obj: Any, key: str, field: str) -> list[str]:
    items = obj.get(key) if isinstance(obj, dict) else None
    return [str(m[field]) for m in items or [] if isinstance(m, dict) and m.get(field)]


# GET /v1/models: each provider's own listing (path, extra headers, the ids in its answer).
MODEL_LISTS: dict[str, tuple[str, list[tuple[str, str]], Any]] = {
    "openai": ("/v1/models", [], lambda obj: _ids(obj, "data", "id")),
    "anthropic": (
        "/v1/models?limit=1000",
        [("anthropic-version", "2023-06-01")],
        lambda obj: _ids(obj, "data", "id"),
    ),
    "gemini": (
        "/v1beta/models?pageSize=1000",
        [],
        lambda obj: [m.removeprefix("models/") for m in _ids(obj, "models", "name")],
    ),
}


def models_body(models: list[str], *, anthropic_shape: bool) -> dict[str, Any]:
    """The merged listing in the caller's shape (Anthropic's when it sent anthropic-version)."""
    if anthropic_shape:
        data = [
            {"type": "model", "id": m, "display_name": m, "created_at": "1970-01-01T00:00:00Z"}
            for m in models
        ]
        return {
            "data": data,
            "has_more": False,
            "first_id": models[0] if models else None,
            "last_id": models[-1] if models else None,
        }
    return {
        "object": "list",
        "data": [
            {"id": m, "object": "model", "created": 0, "owned_by": m.partition("/")[0]}
            for m in models
        ],
    }
