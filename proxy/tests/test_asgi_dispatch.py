"""gateway_site.asgi sends the proxy prefixes to the proxy and everything else to Django."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest


async def _call(app: Any, path: str) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []
    messages = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # the client stays connected
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body


@pytest.mark.django_db
async def test_proxy_paths_go_to_the_proxy_and_the_rest_to_django() -> None:
    from gateway_site.asgi import application

    status, body = await _call(application, "/health")
    assert status == 503 and b"starting" in body  # the proxy, before its lifespan start-up
    status, body = await _call(application, "/openai/v1/files")
    assert status == 501 and b"path not allow-listed" in body
    status, body = await _call(application, "/admin/login/")
    assert status == 200 and b"csrfmiddlewaretoken" in body  # Django's admin
