"""What the proxy takes from the caller's request: the key, the headers to forward, the query.

Pure functions over ASGI header lists ([(lowercase name bytes, value bytes)]).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from django.conf import settings
from django.http.request import split_domain_port, validate_host

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
        b"api-key",
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
    x-goog-api-key, api-key (Azure's SDKs), or ?key= (the first one present)."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
        elif name in (b"x-api-key", b"x-goog-api-key", b"api-key") and value:
            return value.decode("latin-1").strip()
    if b"key=" in query:
        for k, v in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if k == "key" and v:
                return v
    return None


def _is_key_param(name: str) -> bool:
    """`key` in any spelling a server might read as it: any case, surrounding spaces
    (parse_qsl has already decoded %6Bey, k%65y and '+')."""
    return name.strip().lower() == "key"


def upstream_query(query: bytes) -> str:
    """The query string to forward: unchanged, minus the caller's gateway key (`key=` in any
    case or percent-encoding: a provider must never receive it, whichever way it was spelled)."""
    if not query:
        return ""
    text = query.decode("latin-1")
    lowered = text.lower()
    if "key" not in lowered and "%" not in lowered and "+" not in lowered:
        return text
    pairs = parse_qsl(text, keep_blank_values=True)
    if not any(_is_key_param(k) for k, _ in pairs):
        return text
    return urlencode([(k, v) for k, v in pairs if not _is_key_param(k)])


def content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The request's Content-Length, None when absent; BadRequest when it is not one decimal
    number of sane size (several differing values, signs, spaces, 5,000 digits)."""
    found: bytes | None = None
    for name, value in headers:
        if name == b"content-length":
            if found is not None and value != found:
                raise BadRequest("the request has conflicting Content-Length headers")
            found = value
    if found is None:
        return None
    if not found.isdigit() or len(found) > 18:  # isdigit on bytes: ASCII digits only
        raise BadRequest("the request's Content-Length is not a valid number")
    return int(found)


def host_allowed(host: bytes) -> bool:
    """Whether a Host header value names a host in ALLOWED_HOSTS, by Django's own rules (so
    the proxy routes and Django's refuse the same hosts; DEBUG with an empty list allows the
    local names, as Django does). A request without a Host header is refused."""
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    domain, _port = split_domain_port(host.decode("latin-1"))
    return bool(domain) and validate_host(domain, allowed)


def upstream_headers(
    headers: list[tuple[bytes, bytes]],
    auth: tuple[str, str] | None = None,
    extra: tuple[tuple[str, str], ...] = (),
) -> list[tuple[str, str]]:
    """Every caller header except hop-by-hop, credentials and x-gateway-*, plus the provider
    secret in the provider's own header (`auth`; None: no credentials, or the provider
    authorizes the request itself) and the upstream's own `extra` headers, which replace the
    caller's of the same name. Repeated headers (anthropic-beta) stay repeated."""
    drop = _DROP
    if extra:
        drop = _DROP | {name.lower().encode("latin-1") for name, _ in extra}
    out = [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, value in headers
        if name not in drop and not name.startswith(b"x-gateway-")
    ]
    if auth is not None:
        out.append(auth)
    out.extend(extra)
    return out


def gateway_options(headers: list[tuple[bytes, bytes]]) -> tuple[str | None, dict[str, str]]:
    """(x-gateway-project or None, other x-gateway-* headers without the prefix).

    BadRequest for a project name that does not match PROJECT_NAME_RE, and for an
    x-gateway-customer that is empty, longer than 128 characters or not printable text (kept
    under "customer" whatever the number of other headers: policies and traces read it)."""
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
        elif key == "customer":
            metadata[key] = customer_id(value)
        elif len(metadata) < 32:
            metadata[key] = text[:500]
    return project, metadata


CUSTOMER_MAX_CHARS = 128


def customer_id(raw: bytes) -> str:
    """The end customer an application names in x-gateway-customer, validated (see above)."""
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        text = ""
    if not text or len(text) > CUSTOMER_MAX_CHARS or not text.isprintable():
        raise BadRequest(
            f"x-gateway-customer must be 1-{CUSTOMER_MAX_CHARS} characters of printable text"
        )
    return text
