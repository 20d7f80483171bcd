"""AWS Bedrock wire format: InvokeModel / InvokeModelWithResponseStream with the Anthropic
Messages shape (anthropic_version bedrock-2023-05-31), Converse / ConverseStream for the others.

Paths mirror bedrock-runtime's under `/bedrock` (`/bedrock/model/{modelId}/invoke`, ...,
`count-tokens`), so
`anthropic.AnthropicBedrock(base_url=<gateway>/bedrock)`, botocore's bedrock-runtime client and
Claude Code (ANTHROPIC_BEDROCK_BASE_URL) reach the gateway unchanged, with the gateway key as
their Bedrock API key (`Authorization: Bearer`). Upstream, the workspace's secrets authenticate:
an API key (AWS_BEARER_TOKEN_BEDROCK) or an access key pair signed with SigV4 (botocore's
signer), in AWS_REGION. Model ids pass as sent: cross-region inference profiles (`us.`, `eu.`,
`apac.`, `global.` ...) and ARNs included; prices are looked up without those prefixes.
"""

from __future__ import annotations

import base64
import re
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from hotpath.errors import BadRequest, ProviderSecretMissing
from pricing.table import Usage
from pricing.usage import token_count
from proxy.providers import anthropic, eventstream

if TYPE_CHECKING:
    from hotpath.gates import ProxyCall
    from proxy.auth import UpstreamSecret

PROVIDER = "bedrock"
SECRET_NAME = "AWS_BEARER_TOKEN_BEDROCK"
SIGNING_NAME = "bedrock"
ANTHROPIC_VERSION = "bedrock-2023-05-31"
MISSING = (
    "this workspace has no AWS_BEARER_TOKEN_BEDROCK (or AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY) provider secret: a workspace admin can set it under Settings → "
    "Integrations"
)
# Cross-region inference profile prefixes (a geography, or global).
_PROFILE_RE = re.compile(r"^(?:us|eu|apac|global|us-gov|jp|au|ca)\.")
_VERSION_RE = re.compile(r"-v\d+(?::\d+)?$")
# Betas the first-party API knows and Bedrock refuses the whole request for ("invalid beta
# flag"): Claude Code sends them; dropped before the call (prefixes).
DROPPED_BETAS = ("oauth-", "prompt-caching-scope-", "fast-mode-", "mcp-servers-")

# AWS error types by status: the `x-amzn-ErrorType` header botocore reads.
_ERROR_TYPES = {
    400: "ValidationException",
    401: "UnrecognizedClientException",
    402: "ServiceQuotaExceededException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    413: "ValidationException",
    424: "AccessDeniedException",
    429: "ThrottlingException",
    501: "ResourceNotFoundException",
    502: "ServiceUnavailableException",
    503: "ServiceUnavailableException",
    504: "ModelTimeoutException",
}


@dataclass(frozen=True, slots=True)
class BedrockCredentials:
    """What one workspace calls Bedrock with. Never logged."""

    region: str
    base_url: str
    token: str = field(default="", repr=False)
    access_key_id: str = ""
    secret_access_key: str = field(default="", repr=False)
    session_token: str = field(default="", repr=False)


def credentials(secrets: dict[str, UpstreamSecret]) -> BedrockCredentials:
    """The workspace's Bedrock credentials: the API key if set, else the access key pair; 424
    naming what is missing."""
    region = secrets.get("AWS_REGION")
    token = secrets.get("AWS_BEARER_TOKEN_BEDROCK")
    key_id = secrets.get("AWS_ACCESS_KEY_ID")
    key = secrets.get("AWS_SECRET_ACCESS_KEY")
    if token is None and (key_id is None or key is None):
        raise ProviderSecretMissing(MISSING)
    if region is None:
        raise ProviderSecretMissing(
            "this workspace has no AWS_REGION setting for Bedrock (e.g. us-east-1): a "
            "workspace admin can set it under Settings → Integrations"
        )
    main = token if token is not None else key_id
    base_url = main.base_url or region.base_url  # type: ignore[union-attr]
    if token is not None:
        return BedrockCredentials(region=region.secret, base_url=base_url, token=token.secret)
    session = secrets.get("AWS_SESSION_TOKEN")
    return BedrockCredentials(
        region=region.secret,
        base_url=base_url,
        access_key_id=key_id.secret,  # type: ignore[union-attr]
        secret_access_key=key.secret,  # type: ignore[union-attr]
        session_token=session.secret if session is not None else "",
    )


def default_base_url(creds: BedrockCredentials, upstream_path: str) -> str:
    return f"https://bedrock-runtime.{creds.region}.amazonaws.com"


# The model catalogue (Bedrock's control plane), for the unified GET /v1/models: the text
# models served on demand, and the cross-region inference profiles (Claude's recent models are
# called only through one).
MODEL_LISTS = (
    "/foundation-models?byOutputModality=TEXT",
    "/inference-profiles?typeEquals=SYSTEM_DEFINED&maxResults=1000",
)


def control_base_url(creds: BedrockCredentials) -> str:
    """The control plane's origin: the secrets' base URL override, else bedrock.<region>."""
    return creds.base_url or f"https://bedrock.{creds.region}.amazonaws.com"


def listed_models(obj: Any) -> list[str]:
    """The callable model ids of a ListFoundationModels answer (active text models served on
    demand) or a ListInferenceProfiles one (active profiles)."""
    if not isinstance(obj, dict):
        return []
    out = []
    for model in obj.get("modelSummaries") or []:
        if (
            isinstance(model, dict)
            and isinstance(model.get("modelId"), str)
            and "TEXT" in (model.get("outputModalities") or [])
            and "ON_DEMAND" in (model.get("inferenceTypesSupported") or [])
            and (model.get("modelLifecycle") or {}).get("status", "ACTIVE") == "ACTIVE"
        ):
            out.append(model["modelId"])
    for profile in obj.get("inferenceProfileSummaries") or []:
        if (
            isinstance(profile, dict)
            and isinstance(profile.get("inferenceProfileId"), str)
            and profile.get("status", "ACTIVE") == "ACTIVE"
        ):
            out.append(profile["inferenceProfileId"])
    return out


def price_name(model: str) -> str:
    """The price-table name of a Bedrock model id: an inference profile ARN's id, without the
    cross-region prefix; Anthropic models by their Anthropic name (`us.anthropic.claude-sonnet-
    4-5-20250929-v1:0` → `claude-sonnet-4-5-20250929`, priced as claude-sonnet-4-5)."""
    if model.startswith("arn:"):
        model = model.rpartition("/")[2]
    model = _PROFILE_RE.sub("", model)
    if model.startswith("anthropic."):
        return _VERSION_RE.sub("", model.removeprefix("anthropic."))
    return model


def is_anthropic(model: str) -> bool:
    """Whether a model id (a foundation model, an inference profile, or an ARN naming either)
    is an Anthropic model, which InvokeModel serves with the Anthropic Messages body."""
    if model.startswith("arn:"):
        model = model.rpartition("/")[2]
    return _PROFILE_RE.sub("", model).startswith("anthropic.")


def unified_body(body: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """An Anthropic Messages body (a unified endpoint's, written or passed on) shaped in place
    as InvokeModel takes it, as the native path shapes it; `headers`' anthropic-beta flags go
    in the body. No extra header: everything is in the body."""
    _shape_messages(body, headers)
    return []


def prepare_call(call: ProxyCall, headers: list[tuple[bytes, bytes]]) -> None:
    """Shape an InvokeModel body as Bedrock expects it before the gates read it: the Anthropic
    Messages body with an anthropic_version (bedrock-2023-05-31 unless the caller set one), no
    model or stream (they are in the path), and the caller's anthropic-beta headers in the
    body's anthropic_beta list (Claude Code sends them as headers), less the betas Bedrock
    refuses. CountTokens of an InvokeModel body: that body (base64 in the request) is decoded
    here, so the gates read it, shaped the same way, and encoded again by prepare_body."""
    body = call.body
    if body is None:
        return
    if call.endpoint == "CountTokens":
        invoke = (
            body.get("input", {}).get("invokeModel")
            if isinstance(body.get("input"), dict)
            else None
        )
        if isinstance(invoke, dict) and isinstance(invoke.get("body"), str):
            try:
                inner = orjson.loads(base64.b64decode(invoke["body"], validate=True))
            except (ValueError, orjson.JSONDecodeError):
                raise BadRequest("input.invokeModel.body must be a base64 JSON body") from None
            if not isinstance(inner, dict):
                raise BadRequest("input.invokeModel.body must be a JSON object")
            invoke["body"] = inner
            _shape_messages(inner, headers)
            call.body_changed = True
        return
    if call.endpoint != "Messages":
        return
    if not isinstance(body.get("messages"), list):
        raise BadRequest(
            "InvokeModel through the gateway takes the Anthropic Messages shape (Anthropic "
            "models); use Converse for other models"
        )
    if _shape_messages(body, headers):
        call.body_changed = True


def _shape_messages(body: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> bool:
    """True when `body` was changed."""
    changed = False
    if "anthropic_version" not in body:  # (the SDKs send their own: it is kept)
        body["anthropic_version"] = ANTHROPIC_VERSION
        changed = True
    for extra in ("model", "stream"):
        if extra in body:
            del body[extra]
            changed = True
    betas = body.get("anthropic_beta")
    wanted: list[str] = list(betas) if isinstance(betas, list) else []
    for name, value in headers:
        if name == b"anthropic-beta":
            wanted += [b.strip() for b in value.decode("latin-1").split(",") if b.strip()]
    kept = [
        b for b in dict.fromkeys(wanted) if isinstance(b, str) and not b.startswith(DROPPED_BETAS)
    ]
    if kept != betas and (kept or betas is not None):
        if kept:
            body["anthropic_beta"] = kept
        else:
            body.pop("anthropic_beta", None)
        changed = True
    return changed


# Caller headers that mean nothing to Bedrock (their content is in the body) or that the
# gateway's own credentials replace.
_NOT_FORWARDED = frozenset(
    {
        "anthropic-beta",
        "anthropic-version",
        "content-type",
        "x-amz-date",
        "x-amz-security-token",
        "x-amz-content-sha256",
    }
)


async def authorize(
    creds: BedrockCredentials,
    method: str,
    url: str,
    headers: list[tuple[str, str]],
    body: bytes,
) -> list[tuple[str, str]]:
    """The headers to send: the caller's (less the Anthropic ones), JSON content type, and the
    workspace's API key or a SigV4 signature over method, URL, body, content type and x-amz*
    headers."""
    out = [(k, v) for k, v in headers if k.lower() not in _NOT_FORWARDED]
    if creds.token:
        return [
            *out,
            ("Content-Type", "application/json"),
            ("Authorization", f"Bearer {creds.token}"),
        ]
    signed = {k: v for k, v in out if k.lower().startswith(("x-amz-", "x-amzn-"))}
    unsigned = [(k, v) for k, v in out if k not in signed]
    request = AWSRequest(
        method=method, url=url, data=body, headers={**signed, "Content-Type": "application/json"}
    )
    key = Credentials(creds.access_key_id, creds.secret_access_key, creds.session_token or None)
    SigV4Auth(key, SIGNING_NAME, creds.region).add_auth(request)
    return [*unsigned, *request.headers.items()]


def error_body(status: int, message: str) -> bytes:
    """AWS's JSON error: `{"message": ...}` (the type travels in x-amzn-ErrorType)."""
    return orjson.dumps({"message": message})


def error_headers(status: int) -> list[tuple[bytes, bytes]]:
    kind = _ERROR_TYPES.get(
        status, "InternalServerException" if status >= 500 else "ValidationException"
    )
    return [(b"x-amzn-errortype", kind.encode())]


def stream_error_event(endpoint: str, message: str) -> bytes:
    """The exception message that ends an event stream the upstream broke."""
    return eventstream.exception("internalServerException", message)


def stream_scanner(endpoint: str, *, trace_limit: int = 0) -> eventstream.EventStreamScanner:
    return eventstream.EventStreamScanner(sys.modules[__name__], endpoint, trace_limit=trace_limit)


def prepare_body(endpoint: str, body: dict[str, Any], *, stream: bool) -> bool:
    """CountTokens: the InvokeModel body prepare_call decoded goes back to base64 (every
    answer carries usage: nothing else to add)."""
    if endpoint != "CountTokens" or not isinstance(body.get("input"), dict):
        return False
    invoke = body["input"].get("invokeModel")
    if isinstance(invoke, dict) and isinstance(invoke.get("body"), dict):
        invoke["body"] = base64.b64encode(orjson.dumps(invoke["body"])).decode()
        return True
    return False


def _int(value: Any) -> int:
    return token_count(value) or 0


def converse_usage(usage: Any) -> Usage | None:
    """Converse's usage: inputTokens counts only the uncached input (as Anthropic's does), the
    cache reads and writes come beside it."""
    if not isinstance(usage, dict):
        return None
    read = _int(usage.get("cacheReadInputTokens"))
    write = _int(usage.get("cacheWriteInputTokens"))
    return Usage(
        input_tokens=_int(usage.get("inputTokens")) + read + write,
        output_tokens=_int(usage.get("outputTokens")),
        cache_read_tokens=read,
        cache_write_tokens=write,
    )


def usage_from_body(endpoint: str, obj: Any) -> Usage | None:
    if not isinstance(obj, dict):
        return None
    if endpoint == "Messages":
        return anthropic.usage_from_body(endpoint, obj)
    if endpoint in ("Converse", "ConverseStream"):
        return converse_usage(obj.get("usage"))
    return None


def usage_from_event(endpoint: str, obj: Any, current: Usage | None) -> Usage | None:
    """One decoded stream message, as {event type: payload}: an InvokeModel `chunk` holds an
    Anthropic event; ConverseStream's `metadata` holds the usage."""
    if not isinstance(obj, dict):
        return current
    if "chunk" in obj:
        return anthropic.usage_from_event(endpoint, obj["chunk"], current)
    if isinstance(obj.get("metadata"), dict):
        parsed = converse_usage(obj["metadata"].get("usage"))
        return parsed if parsed is not None else current
    return current
