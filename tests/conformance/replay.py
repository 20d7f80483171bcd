"""Replaying a recorded client request byte for byte, and comparing what the provider received.

A fixture (fixtures/*.json) holds one request as the client sends it: method, path under the
gateway, headers (the key as {{KEY}}) and the JSON body, serialized the way the client does
(compact, UTF-8, keys in the recorded order: what JSON.stringify and serde_json produce).
"""

from __future__ import annotations

import http.client
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

FIXTURES = Path(__file__).parent / "fixtures"
# Headers a proxy legitimately does not forward as is: credentials (replaced by the provider
# secret), hop-by-hop headers, and those describing this connection or its encoding.
NOT_FORWARDED = frozenset(
    {
        "authorization",
        "x-api-key",
        "x-goog-api-key",
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "accept-encoding",
    }
)
# Headers the upstream HTTP client adds for its own connection (and aiohttp's default
# `Accept: */*` when the client sent no Accept; a client's own Accept is forwarded as is).
CONNECTION_HEADERS = frozenset(
    {"host", "content-length", "accept-encoding", "connection", "accept"}
)
_TIMESTAMPS = re.compile(rb'"(created|created_at)":\d+')
_KEY_FINGERPRINT = re.compile(rb'"system_fingerprint":"fp_[0-9a-f]+"')


@dataclass
class Exchange:
    status: int
    headers: dict[str, str]
    body: bytes


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def names() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.json"))


def body_bytes(fixture: dict[str, Any]) -> bytes:
    return json.dumps(
        fixture["request"]["body"], separators=(",", ":"), ensure_ascii=False
    ).encode()


def send(base_url: str, method: str, path: str, headers: dict[str, str], body: bytes) -> Exchange:
    """Send exactly these headers and bytes (http.client adds only Host and Content-Length)."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=15)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.putheader("content-length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return Exchange(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def without_timestamps(body: bytes) -> bytes:
    """The fake provider stamps `created` with the current second and answers a chat
    completion with a fingerprint of the provider key it received; nothing else varies."""
    body = _KEY_FINGERPRINT.sub(b'"system_fingerprint":"fp_"', body)
    return _TIMESTAMPS.sub(rb'"\1":0', body)
