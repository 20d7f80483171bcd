"""The fake provider's cloud side (devtools.fake_provider): AWS Bedrock and Google Vertex AI.

Bedrock: SigV4 checked by recomputing the signature with botocore from the fake's known
credentials (FAKE_AWS_*); Converse answers; the binary event stream. Vertex: a service account
whose key the fake knows (`fake_service_account`), so its token endpoint can check the JWT
bearer grant's signature before minting an access token.
"""

from __future__ import annotations

import functools
import time
from typing import Any

import orjson

from devtools.fake_formats import last_user, text_pieces, tokens_of

FAKE_AWS_ACCESS_KEY_ID = "AKIAFAKEGATEWAYTEST1"
FAKE_AWS_SECRET_ACCESS_KEY = "fake+Secret/Access/Key/For/The/Gateway/Tests0"
FAKE_SERVICE_ACCOUNT_EMAIL = "gateway-tests@fake-project.iam.gserviceaccount.com"
FAKE_PROJECT = "fake-project"

# --- AWS Bedrock -----------------------------------------------------------------------------


def sigv4_problem(
    *, method: str, url: str, headers: dict[str, str], body: bytes, session_token: str | None
) -> str | None:
    """Why the request's SigV4 signature is not the one the fake's credentials give (None: it
    is). `url` as received (scheme, host, raw path and query)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    auth = headers.get("authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return "not a SigV4 Authorization header"
    fields = dict(
        part.strip().split("=", 1) for part in auth.removeprefix("AWS4-HMAC-SHA256 ").split(",")
    )
    key_id, date, region, service, _ = fields.get("Credential", "////").split("/")
    if key_id != FAKE_AWS_ACCESS_KEY_ID:
        return f"unknown access key id {key_id}"
    signed = fields.get("SignedHeaders", "").split(";")
    timestamp = headers.get("x-amz-date", "")
    if not timestamp.startswith(date) or "x-amz-date" not in signed:
        return "x-amz-date is missing, unsigned or not the credential's date"
    request = AWSRequest(
        method=method,
        url=url,
        data=body,
        headers={name: headers[name] for name in signed if name in headers},
    )
    request.context["timestamp"] = timestamp
    signer = SigV4Auth(
        Credentials(FAKE_AWS_ACCESS_KEY_ID, FAKE_AWS_SECRET_ACCESS_KEY, session_token),
        service,
        region,
    )
    if signer.signed_headers(signer.headers_to_sign(request)) != fields.get("SignedHeaders"):
        return "SignedHeaders do not match the headers received"
    expected = signer.signature(
        signer.string_to_sign(request, signer.canonical_request(request)), request
    )
    if expected != fields.get("Signature"):
        return "The request signature we calculated does not match the signature you provided"
    return None


def _converse_turn(body: dict[str, Any]) -> tuple[str, str | None]:
    """(the last user text, the tool to call: the first one offered, unless the last message
    is a tool result)."""
    text, after_tool = last_user(body.get("messages"))
    tools = (body.get("toolConfig") or {}).get("tools") or []
    spec = tools[0].get("toolSpec") if tools and isinstance(tools[0], dict) else None
    tool = None if after_tool or not isinstance(spec, dict) else spec.get("name")
    return text, tool


def converse_usage(body: dict[str, Any], answer: str) -> dict[str, int]:
    i, o = tokens_of(body.get("messages")), max(1, len(answer) // 4)
    return {"inputTokens": i, "outputTokens": o, "totalTokens": i + o}


def converse_answer(body: dict[str, Any]) -> dict[str, Any]:
    text, tool = _converse_turn(body)
    answer = f"Echo: {text}"
    content: list[dict[str, Any]] = [{"text": answer}]
    if tool:
        content = [
            {"toolUse": {"toolUseId": "tooluse_fake1", "name": tool, "input": {"echo": text}}}
        ]
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": "tool_use" if tool else "end_turn",
        "usage": converse_usage(body, answer),
        "metrics": {"latencyMs": 12},
    }


def converse_stream(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(event type, payload) of a ConverseStream answer, the usage in the last one."""
    text, tool = _converse_turn(body)
    answer = f"Echo: {text}"
    events: list[tuple[str, dict[str, Any]]] = [("messageStart", {"role": "assistant"})]
    if tool:
        start = {"toolUse": {"toolUseId": "tooluse_fake1", "name": tool}}
        events.append(("contentBlockStart", {"contentBlockIndex": 0, "start": start}))
        arguments = orjson.dumps({"echo": text}).decode()
        events += [
            ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"toolUse": {"input": piece}}})
            for piece in text_pieces(arguments)
        ]
    else:
        events += [
            ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}})
            for piece in text_pieces(answer)
        ]
    events += [
        ("contentBlockStop", {"contentBlockIndex": 0}),
        ("messageStop", {"stopReason": "tool_use" if tool else "end_turn"}),
        ("metadata", {"usage": converse_usage(body, answer), "metrics": {"latencyMs": 12}}),
    ]
    return events


# (model id, output modality, inference types): a few of each kind Bedrock lists
_FOUNDATION_MODELS = (
    ("anthropic.claude-sonnet-4-5-20250929-v1:0", "TEXT", ["INFERENCE_PROFILE"]),
    ("anthropic.claude-3-haiku-20240307-v1:0", "TEXT", ["ON_DEMAND"]),
    ("amazon.nova-pro-v1:0", "TEXT", ["ON_DEMAND", "INFERENCE_PROFILE"]),
    ("amazon.titan-embed-text-v2:0", "EMBEDDING", ["ON_DEMAND"]),
    ("stability.sd3-5-large-v1:0", "IMAGE", ["ON_DEMAND"]),
)
_INFERENCE_PROFILES = (
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "us.amazon.nova-pro-v1:0",
)


def bedrock_foundation_models(output_modality: str | None) -> dict[str, Any]:
    """ListFoundationModels' answer (filtered by output modality, as Bedrock filters it)."""
    return {
        "modelSummaries": [
            {
                "modelArn": f"arn:aws:bedrock:us-east-1::foundation-model/{model}",
                "modelId": model,
                "providerName": model.partition(".")[0].title(),
                "inputModalities": ["TEXT"],
                "outputModalities": [modality],
                "responseStreamingSupported": modality == "TEXT",
                "inferenceTypesSupported": kinds,
                "modelLifecycle": {"status": "ACTIVE"},
            }
            for model, modality, kinds in _FOUNDATION_MODELS
            if output_modality in (None, modality)
        ]
    }


def bedrock_inference_profiles() -> dict[str, Any]:
    """ListInferenceProfiles' answer: the system-defined cross-region profiles."""
    return {
        "inferenceProfileSummaries": [
            {
                "inferenceProfileId": profile,
                "inferenceProfileName": profile,
                "status": "ACTIVE",
                "type": "SYSTEM_DEFINED",
            }
            for profile in _INFERENCE_PROFILES
        ]
    }


def bedrock_error_type(status: int) -> str:
    return {
        400: "ValidationException",
        401: "UnrecognizedClientException",
        403: "AccessDeniedException",
        404: "ResourceNotFoundException",
        429: "ThrottlingException",
        503: "ServiceUnavailableException",
    }.get(status, "InternalServerException")


# --- Google Vertex AI ------------------------------------------------------------------------


@functools.cache
def _key_pair() -> tuple[str, str]:
    """(private key PEM, public key PEM) of the fake service account, made once per process."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def fake_service_account(token_uri: str) -> dict[str, Any]:
    """A service account key file whose token_uri is the fake's token endpoint."""
    return {
        "type": "service_account",
        "project_id": FAKE_PROJECT,
        "private_key_id": "fakekey0000000000000000000000000000beef",
        "private_key": _key_pair()[0],
        "client_email": FAKE_SERVICE_ACCOUNT_EMAIL,
        "client_id": "100000000000000000001",
        "token_uri": token_uri,
    }


def verify_assertion(assertion: str, token_uri: str) -> dict[str, Any]:
    """The claims of a JWT bearer grant signed by the fake service account's key, for this
    token endpoint (ValueError otherwise)."""
    from google.auth import jwt

    # google-auth addresses the assertion to Google's token endpoint whatever token_uri says
    claims = jwt.decode(
        assertion,
        certs=_key_pair()[1],
        audience=[token_uri, "https://oauth2.googleapis.com/token"],
    )
    if claims.get("iss") != FAKE_SERVICE_ACCOUNT_EMAIL:
        raise ValueError("the assertion is not from the fake service account")
    if "cloud-platform" not in str(claims.get("scope", "")):
        raise ValueError("the assertion does not ask for the cloud-platform scope")
    if claims.get("exp", 0) < time.time():
        raise ValueError("the assertion has expired")
    return dict(claims)


# Model Garden's catalogue (publishers.models.list): (name, versionId) per publisher, a few of
# each kind it lists: Gemini models, and models the unified endpoints do not call (embeddings,
# Live API, images, video, open models deployed separately).
_PUBLISHER_MODELS = {
    "google": (
        ("gemini-2.5-flash", "default"),
        ("gemini-2.5-pro", "default"),
        ("gemini-2.0-flash-001", "default"),
        ("gemini-embedding-001", "default"),
        ("text-embedding-005", "default"),
        ("gemini-live-2.5-flash", "default"),
        ("imagen-4.0-generate-001", "default"),
        ("veo-3.0-generate-001", "default"),
        ("gemma3", "gemma-3-27b-it"),
    ),
    "anthropic": (
        ("claude-sonnet-4-5", "20250929"),
        ("claude-haiku-4-5", "20251001"),
        ("claude-opus-4-1", "20250805"),
    ),
}
PUBLISHER_MODELS_PAGE = 4  # the most models one page holds, whatever pageSize asks


def publisher_models(publisher: str, page_size: int, page_token: str) -> dict[str, Any]:
    """ListPublisherModels' answer: one page of the publisher's models (BASIC view), and the
    token of the next page when more follow (ValueError for a token it did not give)."""
    start = 0
    if page_token:
        if not page_token.startswith("page-") or not page_token[5:].isdigit():
            raise ValueError(f"invalid page token {page_token!r}")
        start = int(page_token[5:])
    size = min(page_size, PUBLISHER_MODELS_PAGE) if page_size > 0 else PUBLISHER_MODELS_PAGE
    models = _PUBLISHER_MODELS[publisher]
    answer: dict[str, Any] = {
        "publisherModels": [
            {
                "name": f"publishers/{publisher}/models/{name}",
                "versionId": version,
                "openSourceCategory": "PROPRIETARY"
                if publisher == "anthropic" or name.startswith("gemini")
                else "GOOGLE_OWNED_OSS_WITH_GOOGLE_CHECKPOINT",
                "launchStage": "GA",
            }
            for name, version in models[start : start + size]
        ]
    }
    if start + size < len(models):
        answer["nextPageToken"] = f"page-{start + size}"
    return answer
