"""The floor the proxy benchmark compares the gateway with: a raw ASGI + aiohttp pass-through.

    gunicorn bench.floor_app:app --worker-class uvicorn.workers.UvicornWorker --workers 2 ...
    FLOOR_UPSTREAM=http://127.0.0.1:18301  FLOOR_KEY=<the key callers send>

What a minimal gateway must do and nothing more: check the caller's key (an HMAC of the
presented bearer token compared in constant time, as the gateway does), put a provider key in
its place, send the body to the same upstream with one pooled aiohttp session, and relay the
answer (read whole, or chunk by chunk when it is an event stream). No routing table, policies,
usage parsing or recording: whatever the gateway costs above this is what its features cost.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any

import aiohttp
from yarl import URL

UPSTREAM = os.environ.get("FLOOR_UPSTREAM", "http://127.0.0.1:18301").rstrip("/")
PEPPER = b"floor-pepper"
DIGEST = hmac.new(PEPPER, os.environ.get("FLOOR_KEY", "").encode(), hashlib.sha256).digest()
PREFIX = "/openai"
HOP = {b"host", b"content-length", b"authorization", b"connection", b"transfer-encoding"}

_session: aiohttp.ClientSession | None = None


async def _respond(send: Any, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global _session
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _session = aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=60),
                    cookie_jar=aiohttp.DummyCookieJar(),
                )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if _session is not None:
                    await _session.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    key = b""
    headers = []
    for name, value in scope["headers"]:
        if name == b"authorization" and value.startswith(b"Bearer "):
            key = value[7:]
        elif name not in HOP:
            headers.append((name.decode("latin-1"), value.decode("latin-1")))
    if not hmac.compare_digest(hmac.new(PEPPER, key, hashlib.sha256).digest(), DIGEST):
        await _respond(send, 401, b'{"error":"invalid key"}')
        return
    headers.append(("authorization", "Bearer sk-floor-upstream"))
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    path = scope["path"].removeprefix(PREFIX)
    if _session is None:
        await _respond(send, 503, b'{"error":"starting"}')
        return
    async with _session.request(
        scope["method"],
        URL(UPSTREAM + path, encoded=True),
        headers=headers,
        data=b"".join(chunks),
    ) as resp:
        out = [
            (n.lower(), v)
            for n, v in resp.raw_headers
            if n.lower() not in (b"content-length", b"transfer-encoding", b"connection")
        ]
        if resp.headers.get("content-type", "").startswith("text/event-stream"):
            await send({"type": "http.response.start", "status": resp.status, "headers": out})
            async for chunk in resp.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        else:
            data = await resp.read()
            out.append((b"content-length", str(len(data)).encode()))
            await send({"type": "http.response.start", "status": resp.status, "headers": out})
            await send({"type": "http.response.body", "body": data})
