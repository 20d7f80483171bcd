"""The proxy's exceptions, each mapped to one HTTP status and rendered in the caller's dialect.

Raise these anywhere on the request path; proxy.app turns them into a response in one place
(`render`), in the envelope the caller's SDK parses (OpenAI, Anthropic or Gemini) so it raises
its usual exception, with `x-gateway-metadata` carrying `outcome` and, for blocks, `metadata`.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from proxy.providers import error_body


class ProxyError(Exception):
    """A refusal or failure the caller sees as `status` with `message`."""

    status: int = 500
    outcome: str = "error"

    def __init__(
        self, message: str, *, status: int | None = None, metadata: dict[str, Any] | None = None
    ):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.metadata: dict[str, Any] = dict(metadata or {})


class BadRequest(ProxyError):
    status = 400


class AuthFailed(ProxyError):
    """One answer for unknown, malformed, wrong, expired and revoked keys (no enumeration)."""

    status = 401

    def __init__(self) -> None:
        super().__init__("invalid or missing gateway key")


class Forbidden(ProxyError):
    status = 403


class BodyTooLarge(ProxyError):
    status = 413


class ProviderSecretMissing(ProxyError):
    status = 424


class PathNotAllowed(ProxyError):
    status = 501

    def __init__(self) -> None:
        super().__init__("path not allow-listed")


class UpstreamUnreachable(ProxyError):
    status = 502


class UpstreamTimeout(ProxyError):
    status = 504


class PolicyBlocked(ProxyError):
    """A gate's refusal: 402 spend cap, 400/403 redaction... `metadata` (reason, scopes,
    windows) is merged into x-gateway-metadata and the call is recorded as `blocked`."""

    outcome = "blocked"

    def __init__(self, status: int, message: str, metadata: dict[str, Any] | None = None):
        super().__init__(message, status=status, metadata=metadata)


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
    ]
    return error.status, headers, body


def metadata_header(meta: dict[str, Any]) -> bytes:
    """The x-gateway-metadata value: compact JSON, ASCII-only (header values must be)."""
    value = orjson.dumps(meta)
    if value.isascii():
        return value
    return json.dumps(meta, ensure_ascii=True, separators=(",", ":"), default=str).encode()
