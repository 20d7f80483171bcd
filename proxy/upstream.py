"""The one pooled upstream HTTP client of this process (STYLE 2.4), and nothing else.

aiohttp rather than httpx: measured here, a pass-through with an aiohttp ClientSession served
several times the requests of one with httpx.AsyncClient at concurrency 64 (bench/).
"""

from __future__ import annotations

import aiohttp
from django.conf import settings


class Upstream:
    """Created in the ASGI lifespan start-up, closed at shutdown."""

    def __init__(self) -> None:
        self.session: aiohttp.ClientSession | None = None
        self.timeout = aiohttp.ClientTimeout(
            total=None,  # a stream may legitimately last many minutes
            sock_connect=settings.GATEWAY_UPSTREAM_CONNECT_TIMEOUT,
            sock_read=settings.GATEWAY_UPSTREAM_READ_TIMEOUT,
        )

    async def start(self) -> None:
        if self.session is not None:
            return
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
        if self.session is not None:
            await self.session.close()
            self.session = None
