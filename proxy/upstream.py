"""The pooled upstream HTTP clients of this process, and nothing else.

The provider calls go through proxy.http_client (its measurement there); everything else
(model listings, token minting) through one aiohttp ClientSession, rather than httpx: measured
here, a pass-through with an aiohttp ClientSession served several times the requests of one
with httpx.AsyncClient at concurrency 64.
"""

from __future__ import annotations

import aiohttp
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from proxy import routing
from proxy.http_client import UpstreamClient


def _client_timeout(read: float) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(
        total=None,  # a stream may legitimately last many minutes: streams are bounded by idleness
        sock_connect=settings.GATEWAY_UPSTREAM_CONNECT_TIMEOUT,
        sock_read=read,
    )


class Upstream:
    """Created in the ASGI lifespan start-up, closed at shutdown.

    Timeouts: `read` bounds each wait for the provider (its response headers, each read of a
    whole body, a stream's first chunk: a model may think before it answers); `idle` bounds
    the silence between two chunks of a stream once it has started. Both have defaults in
    settings and per-route overrides (GATEWAY_UPSTREAM_ROUTE_TIMEOUTS)."""

    def __init__(self) -> None:
        self.session: aiohttp.ClientSession | None = None
        self.client: UpstreamClient | None = None  # the provider calls
        self.timeout = _client_timeout(settings.GATEWAY_UPSTREAM_READ_TIMEOUT)
        self.idle_timeout: float = settings.GATEWAY_UPSTREAM_STREAM_IDLE_TIMEOUT
        self._routes: dict[tuple[str, str], tuple[aiohttp.ClientTimeout, float]] = {}
        known = routing.ENDPOINTS
        for name, (read, idle) in settings.GATEWAY_UPSTREAM_ROUTE_TIMEOUTS.items():
            dialect, _, endpoint = name.partition(".")
            if (dialect, endpoint) not in known:
                raise ImproperlyConfigured(
                    f"GATEWAY_UPSTREAM_ROUTE_TIMEOUTS names an unknown route {name!r} (known: "
                    + ", ".join(sorted(f"{d}.{e}" for d, e in known))
                    + ")"
                )
            self._routes[(dialect, endpoint)] = (
                _client_timeout(read),
                self.idle_timeout if idle is None else idle,
            )

    def timeouts(self, route: routing.Route) -> tuple[aiohttp.ClientTimeout, float]:
        """(aiohttp timeout of the request, stream idle timeout) for `route`."""
        found = self._routes.get((route.dialect, route.endpoint)) if self._routes else None
        return found or (self.timeout, self.idle_timeout)

    async def start(self) -> None:
        if self.session is not None:
            return
        self.client = UpstreamClient(
            connect_timeout=settings.GATEWAY_UPSTREAM_CONNECT_TIMEOUT,
            max_connections=settings.GATEWAY_UPSTREAM_MAX_CONNECTIONS,
        )
        connector = aiohttp.TCPConnector(
            limit=settings.GATEWAY_UPSTREAM_MAX_CONNECTIONS,  # 0 = no cap
            limit_per_host=0,
            ttl_dns_cache=300,
            keepalive_timeout=60,
        )
        self.session = aiohttp.ClientSession(
            connector=connector,
            timeout=self.timeout,
            auto_decompress=True,
            # No session-wide skip_auto_headers: aiohttp would rebuild a header multidict per
            # request for it. forward.open_upstream skips User-Agent only for callers sending none.
            cookie_jar=aiohttp.DummyCookieJar(),  # never carry one caller's cookies to another
        )

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()
            self.client = None
        if self.session is not None:
            await self.session.close()
            self.session = None
