"""Pure functions of each provider's wire format: upstream request, usage, error envelope.

One module per dialect (openai, anthropic, gemini, bedrock, vertex, azure), each exposing the same
names; `get(dialect)` returns the module. Nothing here does I/O, apart from the hooks a cloud
provider adds (documented in its module):
- `credentials(secrets)`: its credentials from the workspace's secrets (default: the one secret
  SECRET_NAME), raising ProviderSecretMissing;
- `authorize(credentials, method, url, headers, body)` (async): the upstream headers, signed
  or with a minted token (default: `auth_header(secret)` added to the caller's);
- `default_base_url(credentials, upstream_path)`: an origin that depends on the region;
- `prepare_call(call, headers)`: the body reshaped before the gates read it;
- `resolve_call(call, credentials, upstream_path, query)`: the model and upstream path of a
  call once the workspace's credentials are known (Azure's deployments and api-version);
- `price_name(model)`: the price-table name of a model id;
- `error_headers(status)`: headers of the error envelope;
- `stream_scanner(endpoint)`: the usage reader of a non-SSE stream (AWS event stream).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from hotpath.errors import ProviderSecretMissing
from proxy.providers import anthropic, azure, bedrock, gemini, openai, vertex

DIALECTS: dict[str, ModuleType] = {
    "openai": openai,
    "anthropic": anthropic,
    "gemini": gemini,
    "bedrock": bedrock,
    "vertex": vertex,
    "azure": azure,
}


def get(dialect: str) -> ModuleType:
    return DIALECTS[dialect]


def error_body(dialect: str, status: int, message: str) -> bytes:
    """`message` in `dialect`'s error envelope (OpenAI when the dialect is unknown)."""
    return DIALECTS.get(dialect, openai).error_body(status, message)


def error_headers(dialect: str, status: int) -> list[tuple[bytes, bytes]]:
    """Headers the dialect's error envelope needs beside its body (AWS's error type)."""
    extra = getattr(DIALECTS.get(dialect, openai), "error_headers", None)
    return extra(status) if extra is not None else []


def credentials(dialect: str, secrets: dict[str, Any]) -> Any:
    """What the provider of `dialect` is called with, from one workspace's secrets; 424
    (ProviderSecretMissing) naming the missing secret."""
    module = DIALECTS[dialect]
    own = getattr(module, "credentials", None)
    if own is not None:
        return own(secrets)
    secret = secrets.get(module.SECRET_NAME)
    if secret is None:
        raise ProviderSecretMissing(
            f"this workspace has no {module.SECRET_NAME} provider secret: "
            "a workspace admin can set it under Settings → Integrations"
        )
    return secret


def price_name(dialect: str, model: str) -> str:
    """The name `model` is priced under (the id itself unless the provider maps it)."""
    mapping = getattr(DIALECTS[dialect], "price_name", None)
    return mapping(model) if mapping is not None and model else model
