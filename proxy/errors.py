"""Rendering the gateway's errors (hotpath.errors) in the caller's dialect.

proxy.app turns every refusal into a response here, in one place (`render`), in the envelope the
caller's SDK parses (OpenAI, Anthropic or Gemini) so it raises its usual exception, with
`x-gateway-metadata` carrying `outcome` and, for blocks, `metadata`.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from hotpath.errors import (  # noqa: F401  (re-exported for the proxy's modules)
    AuthFailed,
    BadRequest,
    BodyTooLarge,
    CustomProviderMissing,
    Forbidden,
    PathNotAllowed,
    PolicyBlocked,
    ProviderSecretMissing,
    ProxyError,
    RequestTimeout,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from proxy.providers import error_body, error_headers


def render(
    error: ProxyError, dialect: str, gateway_metadata: dict[str, Any]
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """(status, headers, body) of the response for `error` in `dialect`'s envelope."""
    meta = {**gateway_metadata, "outcome": error.outcome, **error.metadata}
    body = error_body(dialect, error.status, error.message)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-gateway-metadata", metadata_header(meta)),
        *error_headers(dialect, error.status),
        *error.headers,
    ]
    return error.status, headers, body


def metadata_header(meta: dict[str, Any]) -> bytes:
    """The x-gateway-metadata value: compact JSON, ASCII-only (header values must be)."""
    value = orjson.dumps(meta)
    if value.isascii():
        return value
    return json.dumps(meta, ensure_ascii=True, separators=(",", ":"), default=str).encode()
