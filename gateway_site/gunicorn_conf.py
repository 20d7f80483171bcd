"""How gunicorn serves the gateway: `gunicorn -c python:gateway_site.gunicorn_conf
gateway_site.asgi:application` (`make serve`). Command-line flags override these values.

Read by gunicorn's master before anything else. The values come from the gateway's settings
module (environment variables, docs/configuration.md), imported without setting Django up.
"""

from __future__ import annotations

import os

from gateway_site import settings as gateway

bind = gateway.GATEWAY_BIND
workers = int(os.environ.get("GATEWAY_WORKERS", "2"))
# uvicorn (uvloop, httptools) with the gateway's HTTP limits and a graceful shutdown that
# records the calls it cuts short.
worker_class = "proxy.http_server.GatewayUvicornWorker"
# SIGTERM: streams in progress get this long to finish; then they are ended and recorded as
# errors, and the worker exits (proxy/http_server.py).
graceful_timeout = gateway.GATEWAY_GRACEFUL_TIMEOUT
keepalive = 75
