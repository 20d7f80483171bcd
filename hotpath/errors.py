"""The refusals and failures a call can end with, each mapped to one HTTP status.

Gates (policies) and the proxy raise these anywhere on the request path; the proxy renders them
in one place (proxy.errors.render), in the envelope the caller's SDK parses, with
`x-gateway-metadata` carrying `outcome` and, for blocks, `metadata`.
"""

from __future__ import annotations

from typing import Any


class ProxyError(Exception):
    """A refusal or failure the caller sees as `status` with `message`; `headers` are added to
    the response as they are (e.g. Retry-After on a 429)."""

    status: int = 500
    outcome: str = "error"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        metadata: dict[str, Any] | None = None,
        headers: list[tuple[bytes, bytes]] | None = None,
    ):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.headers: list[tuple[bytes, bytes]] = list(headers or ())


class BadRequest(ProxyError):
    status = 400


class AuthFailed(ProxyError):
    """One answer for unknown, malformed, wrong, expired and revoked keys (no enumeration)."""

    status = 401

    def __init__(self) -> None:
        super().__init__("invalid or missing gateway key")


class Forbidden(ProxyError):
    status = 403


class RequestTimeout(ProxyError):
    """The client stopped sending its request body."""

    status = 408


class BodyTooLarge(ProxyError):
    status = 413


class ProviderSecretMissing(ProxyError):
    status = 424


class CustomProviderMissing(ProxyError):
    """The caller's workspace has no custom provider of the name it called."""

    status = 404


class PathNotAllowed(ProxyError):
    status = 501

    def __init__(self) -> None:
        super().__init__("path not allow-listed")


class UpstreamUnreachable(ProxyError):
    status = 502


class UpstreamTimeout(ProxyError):
    status = 504


class PolicyBlocked(ProxyError):
    """A gate's refusal: 402 spend cap, 429 rate limit, 403 model access, 400/403 redaction...
    `metadata` (reason, scopes, windows) is merged into x-gateway-metadata and the call is
    recorded as `blocked`."""

    outcome = "blocked"

    def __init__(
        self,
        status: int,
        message: str,
        metadata: dict[str, Any] | None = None,
        headers: list[tuple[bytes, bytes]] | None = None,
    ):
        super().__init__(message, status=status, metadata=metadata, headers=headers)
