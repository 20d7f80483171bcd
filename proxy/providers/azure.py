"""Azure OpenAI: OpenAI's wire format at a workspace's Azure resource, with its paths, its
`api-version` and its `api-key` header.

Paths mirror Azure's under `/azure`, so `openai.AzureOpenAI(azure_endpoint=<gateway>/azure,
api_key=<gateway key>, api_version=...)` works unchanged (the gateway key may come in the
`api-key` header, as that SDK sends it):
- `/azure/openai/deployments/{deployment}/chat/completions` and `.../embeddings`;
- `/azure/openai/responses`;
- the v1 API: `/azure/openai/v1/chat/completions`, `/responses`, `/embeddings` (the deployment
  in the body's `model`; no api-version needed).

The workspace's secrets: AZURE_OPENAI_API_KEY, whose base URL is the resource's endpoint
(`https://NAME.openai.azure.com`, under the base-URL guard); AZURE_OPENAI_API_VERSION (sent
when the caller names none); AZURE_OPENAI_DEPLOYMENTS, the map `model=deployment,...`.
A call may name a model of the map (sent to its deployment) or a deployment (recorded and
priced as its model), so deployment names never stand in for model ids in traces and spend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode

from hotpath.errors import ProviderSecretMissing
from proxy.providers.openai import (  # noqa: F401  (the same wire format)
    error_body,
    prepare_body,
    stream_error_event,
    usage_from_body,
    usage_from_event,
    usage_from_obj,
)
from secrets_vault.formats import azure_deployments

if TYPE_CHECKING:
    from hotpath.gates import ProxyCall
    from proxy.auth import UpstreamSecret

PROVIDER = "azure"
SECRET_NAME = "AZURE_OPENAI_API_KEY"
VERSION_NAME = "AZURE_OPENAI_API_VERSION"
DEPLOYMENTS_NAME = "AZURE_OPENAI_DEPLOYMENTS"
# Sent when neither the caller nor the workspace names one: the GA version of chat
# completions, embeddings and responses with stream usage.
DEFAULT_API_VERSION = "2024-10-21"


@dataclass(frozen=True, slots=True)
class AzureCredentials:
    """What one workspace calls Azure OpenAI with. Never logged."""

    base_url: str  # the resource's endpoint
    key: str = field(repr=False)
    api_version: str = DEFAULT_API_VERSION
    deployments: dict[str, str] = field(default_factory=dict)  # model → deployment
    models: dict[str, str] = field(default_factory=dict)  # deployment → model
    headers: tuple[tuple[str, str], ...] = ()  # (none: the shape the unified endpoints read)

    @property
    def secret(self) -> str:
        return self.key

    def upstream_model(self, model: str) -> str:
        """The deployment of `model` (the unified endpoints name models: azure/MODEL)."""
        return self.deployments.get(model, model)


def credentials(secrets: dict[str, UpstreamSecret]) -> AzureCredentials:
    """The workspace's Azure credentials; 424 naming what is missing."""
    key = secrets.get(SECRET_NAME)
    if key is None:
        raise ProviderSecretMissing(
            "this workspace has no AZURE_OPENAI_API_KEY provider secret: a workspace admin can "
            "set it (with the resource's endpoint as its base URL) under Settings → Integrations"
        )
    if not key.base_url:
        raise ProviderSecretMissing(
            "this workspace's AZURE_OPENAI_API_KEY has no endpoint: set its base URL to the "
            "resource's endpoint (https://NAME.openai.azure.com) under Settings → Integrations"
        )
    version = secrets.get(VERSION_NAME)
    mapping = secrets.get(DEPLOYMENTS_NAME)
    deployments = {}
    if mapping is not None:
        try:
            deployments = azure_deployments(mapping.secret)
        except ValueError:  # validated when set: only a value stored before the checks
            raise ProviderSecretMissing(
                "this workspace's AZURE_OPENAI_DEPLOYMENTS is not model=deployment,…: a "
                "workspace admin can set it again under Settings → Integrations"
            ) from None
    return AzureCredentials(
        base_url=key.base_url,
        key=key.secret,
        api_version=version.secret if version is not None else DEFAULT_API_VERSION,
        deployments=deployments,
        models={d: m for m, d in deployments.items()},
    )


def auth_header(secret: str) -> tuple[str, str]:
    return ("api-key", secret)


async def authorize(
    creds: AzureCredentials,
    method: str,
    url: str,
    headers: list[tuple[str, str]],
    body: bytes,
) -> list[tuple[str, str]]:
    """The caller's headers and the workspace's key in Azure's `api-key` header."""
    return [*headers, auth_header(creds.key)]


def resolve_call(call: ProxyCall, creds: AzureCredentials, upstream_path: str, query: str) -> None:
    """Map the model the caller named to its deployment (a deployment it named to its model),
    so the run and its price show the model; set the upstream path with the api-version (the
    caller's, else the workspace's)."""
    named = call.model
    model = creds.models.get(named, named)
    deployment = creds.deployments.get(named, named)
    call.model = call.record.model = model
    v1 = upstream_path.startswith("/openai/v1/")
    if "/deployments/" in upstream_path:
        prefix, _, rest = upstream_path.partition("/deployments/")
        upstream_path = f"{prefix}/deployments/{deployment}/{rest.partition('/')[2]}"
    elif call.body is not None and deployment and call.body.get("model") != deployment:
        call.body["model"] = deployment  # the v1 API and responses name the deployment here
        call.body_changed = True
    pairs = parse_qsl(query, keep_blank_values=True)
    if not v1 and not any(k == "api-version" for k, _ in pairs):
        pairs.append(("api-version", creds.api_version))
    call.upstream_path = upstream_path + (f"?{urlencode(pairs)}" if pairs else "")
