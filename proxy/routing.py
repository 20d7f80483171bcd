"""The allow-list of proxied paths. Anything else under a provider prefix is a 501."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

PREFIXES: dict[str, str] = {
    "/openai/": "openai",
    "/anthropic/": "anthropic",
    "/gemini/": "gemini",
    "/bedrock/": "bedrock",
    "/vertex/": "vertex",
    "/azure/": "azure",
    "/providers/": "openai",  # a workspace's custom providers (OpenAI-compatible)
}

# Endpoints that are not billed: their calls cost 0, and a missing price is not flagged.
UNBILLED = frozenset(
    {
        "CountTokens",
        "Models",
        "GetModel",
        "ResponsesRetrieve",
        "ResponsesDelete",
        "ResponsesCancel",
        "ResponsesInputItems",
        "ResponsesInputTokens",
    }
)
# Endpoints whose POST carries no body (the SDKs send none).
BODYLESS = frozenset({"ResponsesCancel"})


@dataclass(frozen=True, slots=True)
class Route:
    dialect: str
    endpoint: str
    upstream_path: str  # the provider's own path, appended to the base URL
    model: str = ""  # from the path (Gemini, Bedrock, Vertex); otherwise read from the body
    stream: bool = False  # the endpoint always streams (Gemini streamGenerateContent)
    # A unified endpoint's API (proxy.unified: chat, responses, messages, count_tokens, models):
    # the provider is named by the model, `dialect` is the caller's error envelope.
    api: str = ""
    # The wire format of the body when it is not the dialect's own (what the policies read):
    # Bedrock's InvokeModel and Vertex's rawPredict carry Anthropic Messages, Vertex's Gemini
    # routes Gemini's.
    shape: str = ""

    @property
    def body_dialect(self) -> str:
        return self.shape or self.dialect

    # The key of the workspace's upstream in the secret table (proxy.auth.SecretTable) when it
    # is not the dialect's own secret: "custom/NAME" for a custom provider.
    secret: str = ""

    @property
    def billed(self) -> bool:
        return self.endpoint not in UNBILLED


_STATIC: dict[tuple[str, str], tuple[str, str]] = {
    ("POST", "/openai/v1/chat/completions"): ("openai", "ChatCompletions"),
    ("POST", "/openai/v1/responses"): ("openai", "Responses"),
    ("POST", "/openai/v1/responses/compact"): ("openai", "ResponsesCompact"),
    ("POST", "/openai/v1/responses/input_tokens"): ("openai", "ResponsesInputTokens"),
    ("POST", "/openai/v1/embeddings"): ("openai", "Embeddings"),
    ("GET", "/openai/v1/models"): ("openai", "Models"),
    ("POST", "/anthropic/v1/messages"): ("anthropic", "Messages"),
    ("POST", "/anthropic/v1/messages/count_tokens"): ("anthropic", "CountTokens"),
    ("GET", "/anthropic/v1/models"): ("anthropic", "Models"),
    ("GET", "/gemini/v1beta/models"): ("gemini", "Models"),
    ("GET", "/gemini/v1/models"): ("gemini", "Models"),
}
_GEMINI_RE = re.compile(
    r"^/gemini/(v1beta|v1)/models/([A-Za-z0-9._-]+)"
    r":(generateContent|streamGenerateContent|countTokens|embedContent|batchEmbedContents)$"
)
_GEMINI_ENDPOINTS = {
    "generateContent": "GenerateContent",
    "streamGenerateContent": "StreamGenerateContent",
    "countTokens": "CountTokens",
    "embedContent": "EmbedContent",
    "batchEmbedContents": "BatchEmbedContents",
}
# Paths with an id in them: (method, pattern, dialect, endpoint); the pattern's `id` group is
# a response id or a model id (a model id is also the call's model). Ids are one path segment
# of the characters providers use (fine-tuned OpenAI models have colons).
_ID = r"(?P<id>[A-Za-z0-9._:-]+)"
_PATTERNS: tuple[tuple[str, re.Pattern[str], str, str], ...] = (
    ("GET", re.compile(rf"^/openai/v1/responses/{_ID}$"), "openai", "ResponsesRetrieve"),
    ("DELETE", re.compile(rf"^/openai/v1/responses/{_ID}$"), "openai", "ResponsesDelete"),
    ("POST", re.compile(rf"^/openai/v1/responses/{_ID}/cancel$"), "openai", "ResponsesCancel"),
    (
        "GET",
        re.compile(rf"^/openai/v1/responses/{_ID}/input_items$"),
        "openai",
        "ResponsesInputItems",
    ),
    ("GET", re.compile(rf"^/openai/v1/models/{_ID}$"), "openai", "GetModel"),
    ("GET", re.compile(rf"^/anthropic/v1/models/{_ID}$"), "anthropic", "GetModel"),
    ("GET", re.compile(rf"^/gemini/(?:v1beta|v1)/models/{_ID}$"), "gemini", "GetModel"),
)
_MODEL_IDS = frozenset({"GetModel"})


# Bedrock (bedrock-runtime's paths): the model id may be an ARN (slashes) or carry a
# cross-region prefix (us., eu., apac., global.).
_BEDROCK_RE = re.compile(
    r"^/bedrock/model/([A-Za-z0-9._:/@+-]+?)/"
    r"(invoke|invoke-with-response-stream|converse|converse-stream|count-tokens)$"
)
_BEDROCK_ENDPOINTS = {
    "invoke": ("anthropic", "Messages", False),
    "invoke-with-response-stream": ("anthropic", "Messages", True),
    "converse": ("", "Converse", False),
    "converse-stream": ("", "ConverseStream", True),
    "count-tokens": ("", "CountTokens", False),
}
# Vertex AI (aiplatform's paths): Anthropic models (rawPredict) and Gemini (generateContent).
_VERTEX_RE = re.compile(
    r"^/vertex/(v1|v1beta1)/projects/([A-Za-z0-9._-]+)/locations/([a-z0-9-]+)/publishers/"
    r"(anthropic|google)/models/([A-Za-z0-9._@-]+):"
    r"(rawPredict|streamRawPredict|generateContent|streamGenerateContent|countTokens)$"
)
_VERTEX_ENDPOINTS = {
    ("anthropic", "rawPredict"): ("anthropic", "Messages", False),
    ("anthropic", "streamRawPredict"): ("anthropic", "Messages", True),
    ("google", "generateContent"): ("gemini", "GenerateContent", False),
    ("google", "streamGenerateContent"): ("gemini", "StreamGenerateContent", True),
    ("google", "countTokens"): ("gemini", "CountTokens", False),
}


# Azure OpenAI (Azure's own paths under /azure; proxy.providers.azure): the deployment is in
# the path, or in the body's `model` on the v1 API and responses. The body is OpenAI's.
_AZURE_DEPLOYMENT_RE = re.compile(
    r"^/azure/openai/deployments/([A-Za-z0-9._-]{1,64})/(chat/completions|embeddings)$"
)
_AZURE_DEPLOYMENT_ENDPOINTS = {"chat/completions": "ChatCompletions", "embeddings": "Embeddings"}
_AZURE_STATIC: dict[str, str] = {
    "/azure/openai/responses": "Responses",
    "/azure/openai/v1/chat/completions": "ChatCompletions",
    "/azure/openai/v1/responses": "Responses",
    "/azure/openai/v1/embeddings": "Embeddings",
}


def _azure(path: str) -> Route | None:
    endpoint = _AZURE_STATIC.get(path)
    model = ""
    if endpoint is None:
        found = _AZURE_DEPLOYMENT_RE.match(path)
        if found is None:
            return None
        endpoint, model = _AZURE_DEPLOYMENT_ENDPOINTS[found.group(2)], found.group(1)
    return Route(
        dialect="azure",
        endpoint=endpoint,
        upstream_path=path[len("/azure") :],
        model=model,
        shape="openai",
    )


# Every (dialect, endpoint) a route can name (settings refer to routes by "dialect.Endpoint").
ENDPOINTS: frozenset[tuple[str, str]] = frozenset(
    {
        *_STATIC.values(),
        *(("gemini", e) for e in _GEMINI_ENDPOINTS.values()),
        *((dialect, endpoint) for _, _, dialect, endpoint in _PATTERNS),
        *(("bedrock", e) for _, e, _ in _BEDROCK_ENDPOINTS.values()),
        *(("vertex", e) for _, e, _ in _VERTEX_ENDPOINTS.values()),
        *(("azure", e) for e in _AZURE_STATIC.values()),
    }
)


def dialect_of(path: str) -> str | None:
    """The dialect whose prefix `path` is under, or None (not a proxy path)."""
    for prefix, dialect in PREFIXES.items():
        if path.startswith(prefix):
            return dialect
    if path.startswith("/v1/messages"):
        return "anthropic"
    return None


# The static routes built once (Route is immutable, so every call can share its route).
_STATIC_ROUTES: dict[tuple[str, str], Route] = {
    key: Route(dialect=dialect, endpoint=endpoint, upstream_path=key[1][len(dialect) + 1 :])
    for key, (dialect, endpoint) in _STATIC.items()
}


# The unified endpoints: one API shape, any provider's model (`PROVIDER/MODEL` or `route/NAME`).
UNIFIED_PREFIX = "/v1/"
_UNIFIED_ROUTES: dict[tuple[str, str], Route] = {
    ("POST", "/v1/chat/completions"): Route("openai", "ChatCompletions", "", api="chat"),
    ("POST", "/v1/responses"): Route("openai", "Responses", "", api="responses"),
    ("POST", "/v1/messages"): Route("anthropic", "Messages", "", api="messages"),
    ("POST", "/v1/messages/count_tokens"): Route(
        "anthropic", "CountTokens", "", api="count_tokens"
    ),
    ("GET", "/v1/models"): Route("openai", "Models", "", api="models"),
}
# A custom provider's paths, after /providers/NAME/v1 (its base URL already ends in /v1).
CUSTOM_PREFIX = "/providers/"
CUSTOM_NAME = r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?"  # secrets_vault CustomProvider.NAME_PATTERN
_CUSTOM_RE = re.compile(rf"^/providers/(?P<name>{CUSTOM_NAME})(?P<rest>/v1/.*)$")
_CUSTOM_STATIC: dict[tuple[str, str], str] = {
    ("POST", "/v1/chat/completions"): "ChatCompletions",
    ("POST", "/v1/embeddings"): "Embeddings",
    ("GET", "/v1/models"): "Models",
}
_CUSTOM_MODEL_RE = re.compile(rf"^/v1/models/{_ID}$")


def custom_secret(name: str) -> str:
    """The secret-table key of the custom provider `name`."""
    return f"custom/{name}"


def _custom(method: str, path: str) -> Route | None:
    found = _CUSTOM_RE.match(path)
    if found is None:
        return None
    rest = found.group("rest")
    endpoint = _CUSTOM_STATIC.get((method, rest))
    model = ""
    if endpoint is None and method == "GET":
        by_id = _CUSTOM_MODEL_RE.match(rest)
        if by_id is not None:
            endpoint, model = "GetModel", by_id.group("id")
    if endpoint is None:
        return None
    return Route(
        dialect="openai",
        endpoint=endpoint,
        upstream_path=rest[len("/v1") :],
        model=model,
        secret=custom_secret(found.group("name")),
    )


def match(method: str, path: str) -> Route | None:
    """The route of an allow-listed (method, path), or None."""
    static = _STATIC_ROUTES.get((method, path))
    if static is not None:
        return static
    if path.startswith(UNIFIED_PREFIX):
        return _UNIFIED_ROUTES.get((method, path))
    if path.startswith(CUSTOM_PREFIX):
        return _custom(method, path)
    if method == "POST":
        found = _GEMINI_RE.match(path)
        if found is not None:
            endpoint = _GEMINI_ENDPOINTS[found.group(3)]
            return Route(
                dialect="gemini",
                endpoint=endpoint,
                upstream_path=path[len("/gemini") :],
                model=found.group(2),
                stream=endpoint == "StreamGenerateContent",
            )
    for verb, pattern, dialect, endpoint in _PATTERNS:
        if verb != method:
            continue
        found = pattern.match(path)
        if found is not None:
            return Route(
                dialect=dialect,
                endpoint=endpoint,
                upstream_path=path[len(dialect) + 1 :],
                model=found.group("id") if endpoint in _MODEL_IDS else "",
            )
    if method == "POST":
        if path.startswith("/bedrock/"):
            return _bedrock(path)
        if path.startswith("/vertex/"):
            return _vertex(path)
        if path.startswith("/azure/"):
            return _azure(path)
    return None


def _bedrock(path: str) -> Route | None:
    found = _BEDROCK_RE.match(path)
    if found is None or ".." in found.group(1).split("/"):
        return None
    model, action = found.group(1), found.group(2)
    shape, endpoint, stream = _BEDROCK_ENDPOINTS[action]
    return Route(
        dialect="bedrock",
        endpoint=endpoint,
        # the model id percent-encoded as one path segment, as the AWS SDKs send it
        upstream_path=f"/model/{quote(model, safe='')}/{action}",
        model=model,
        stream=stream,
        shape=shape,
    )


def _vertex(path: str) -> Route | None:
    found = _VERTEX_RE.match(path)
    if found is None:
        return None
    publisher, model, method = found.group(4), found.group(5), found.group(6)
    known = _VERTEX_ENDPOINTS.get((publisher, method))
    if known is None:
        return None
    shape, endpoint, stream = known
    if publisher == "anthropic" and model == "count-tokens":
        if method != "rawPredict":
            return None
        endpoint, model = "CountTokens", ""  # the model is in the body
    return Route(
        dialect="vertex",
        endpoint=endpoint,
        upstream_path=path[len("/vertex") :],
        model=model,
        stream=stream,
        shape=shape,
    )
