"""The ASGI entry point: the proxy routes beside Django, in one process.

`django.setup()` runs first (models, settings); then a tiny dispatcher sends the provider
prefixes (proxy.routing.PREFIXES: /openai, /anthropic, /gemini, /bedrock, /vertex, /providers), /v1 (the
unified endpoints) and /health to the proxy's raw ASGI app (proxy.app.ProxyApp: no Django
request machinery on the hot path) and everything else to Django's ASGI handler (admin, /api/v1).
The lifespan starts and stops the proxy's resources: the auth-table refresher, the recorder's
drain task and the one aiohttp ClientSession of this process. Served by gunicorn with uvicorn
workers (`make serve`).
"""

from __future__ import annotations

import os
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_site.settings")
django.setup(set_prefix=False)

from django.core.handlers.asgi import ASGIHandler  # noqa: E402 - after django.setup()

from proxy import routing  # noqa: E402
from proxy.app import ProxyApp, lifespan  # noqa: E402

# /v1/: the unified endpoints
PROXY_PREFIXES = (*routing.PREFIXES, routing.UNIFIED_PREFIX)

proxy_app = ProxyApp()
django_app = ASGIHandler()


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http":
        path = scope["path"]
        if path.startswith(PROXY_PREFIXES) or path == "/health":
            await proxy_app.handle(scope, receive, send)
        else:
            await django_app(scope, receive, send)
    elif scope["type"] == "lifespan":
        await lifespan(proxy_app, receive, send)
    else:
        await django_app(scope, receive, send)
