"""What the proxy takes from the caller's request: the key, the headers to forward, the query.

Pure functions over ASGI header lists ([(lowercase name bytes, value bytes)]).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from hotpath.callrecord import PROJECT_NAME_RE
from hotpath.errors import BadRequest

# Never forwarded upstream: hop-by-hop (RFC 9110 §7.6.1), the ones the client library sets for
# the new connection, and the caller's credentials (replaced by the workspace's provider secret).
_DROP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
        b"accept-encoding",
        b"cookie",
        b"authorization",
        b"x-api-key",
        b"x-goog-api-key",
    }
)
# Response headers not passed back: hop-by-hop, and those the server sets itself
# (lowercase bytes, compared with the upstream's raw header names lowercased).
DROP_RESPONSE = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"content-length",
        b"content-encoding",
        b"date",
        b"server",
        b"set-cookie",
        b"alt-svc",
        b"strict-transport-security",
    }
)


def extract_key(headers: list[tuple[bytes, bytes]], query: bytes) -> str | None:
    """The gateway key as the caller's SDK sends it: Authorization Bearer, x-api-key,
    x-goog-api-key, or ?key= (the first one present)."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
        elif name in (b"x-api-key", b"x-goog-api-key") and value:
            return value.decode("latin-1").strip()
    if b"key=" in query:
        for k, v in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if k == "key" and v:
                return v
    return None


def upstream_query(query: bytes) -> str:
    """The query string to forward: unchanged, minus any `key=` (the caller's gateway key)."""
    if not query:
        return ""
    text = query.decode("latin-1")
    if "key=" not in text:
        return text
    return urlencode([(k, v) for k, v in parse_qsl(text, keep_blank_values=True) if k != "key"])


def upstream_headers(
    headers: list[tuple[bytes, bytes]], auth: tuple[str, str]
) -> list[tuple[str, str]]:
    """Every caller header except hop-by-hop, credentials and x-gateway-*, plus the provider
    secret in the provider's own header. Repeated headers (anthropic-beta) stay repeated."""
    out = [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, value in headers
        if name not in _DROP and not name.startswith(b"x-gateway-")
    ]
    out.append(auth)
    return out


def gateway_options(headers: list[tuple[bytes, bytes]]) -> tuple[str | None, dict[str, str]]:
    """(x-gateway-project or None, other x-gateway-* headers without the prefix).

    BadRequest for a project name that does not match PROJECT_NAME_RE."""
    project = None
    metadata: dict[str, str] = {}
    for name, value in headers:
        if not name.startswith(b"x-gateway-"):
            continue
        key = name[len(b"x-gateway-") :].decode("latin-1")
        text = value.decode("latin-1")
        if key == "project":
            if not PROJECT_NAME_RE.match(text):
                raise BadRequest(
                    "x-gateway-project must be 1-100 letters, digits, spaces, '.', '_' or '-'"
                )
            project = text
        elif len(metadata) < 32:
            metadata[key] = text[:500]
    return project, metadata
