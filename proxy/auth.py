"""Gateway key → RequestContext, from an in-process table (docs/architecture.md §2).

The table holds every live key (lookup id, HMAC digest, pepper id, resolved permissions), each
workspace's decrypted provider secrets and base URL overrides, the organizations' gateway flags
and the price table. It is built from the ORM in a worker thread (`build_table`) and swapped in
whole, so the request path never touches the database and never sees a half-built table.

Freshness: a timer rebuilds it every GATEWAY_AUTH_REFRESH_SECONDS (default 30 s, so a role,
flag, key or secret change applies within a minute); with REDIS_URL, a message on
hotpath.changes.CHANNEL rebuilds it at once; in the process where the change was
made, the invalidation generation triggers a rebuild before the next request is served.
If a rebuild fails (database briefly down) the previous table keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.conf import settings

from hotpath import changes as invalidation
from hotpath.context import RequestContext
from hotpath.errors import AuthFailed, Forbidden, ProxyError
from orgs.keys import parse_key, peppers
from orgs.permissions_catalogue import INVOKE_PERMISSIONS
from pricing.table import PriceTable

logger = logging.getLogger(__name__)

FLAG_OFF = "LLM Gateway is not enabled for this organization"
ORG_KEY = (
    "organization-scoped keys cannot call the gateway: use a key scoped to one workspace "
    "(a workspace service key or a personal access token)"
)


@dataclass(frozen=True, slots=True)
class UpstreamSecret:
    """A decrypted provider secret and its optional base URL override. Never logged."""

    secret: str = field(repr=False)
    base_url: str = ""


@dataclass(frozen=True, slots=True)
class KeyEntry:
    kind: str
    digest: str = field(repr=False)
    pepper_id: str
    organization_id: int
    workspace_id: int | None  # None: organization-scoped (refused)
    expires_at: float | None  # epoch seconds
    org_enabled: bool
    ctx: RequestContext | None  # None for organization-scoped keys


@dataclass(frozen=True, slots=True)
class AuthTable:
    keys: dict[str, KeyEntry]  # lookup_id -> entry
    upstreams: dict[int, dict[str, UpstreamSecret]]  # workspace id -> secret name -> secret
    prices: PriceTable
    peppers: dict[str, bytes]
    built_at: float

    def authenticate(self, presented: str | None) -> KeyEntry:
        """The entry of a valid, unexpired key; AuthFailed (one identical 401) otherwise.

        Every failure path spends one HMAC, so timing does not tell unknown from wrong."""
        parsed = parse_key(presented) if presented else None
        entry = self.keys.get(parsed.lookup_id) if parsed is not None else None
        pepper = self.peppers.get(entry.pepper_id) if entry is not None else None
        if entry is None or pepper is None or parsed is None or entry.kind != parsed.kind:
            self._dummy(presented or "")
            raise AuthFailed()
        digest = hmac.new(pepper, presented.encode(), hashlib.sha256).hexdigest()  # type: ignore[union-attr]
        if not hmac.compare_digest(digest, entry.digest):
            raise AuthFailed()
        if entry.expires_at is not None and entry.expires_at <= time.time():
            raise AuthFailed()
        return entry

    def _dummy(self, presented: str) -> None:
        pepper = next(iter(self.peppers.values()), b"-")
        hmac.compare_digest(
            hmac.new(pepper, presented.encode(), hashlib.sha256).hexdigest(), "0" * 64
        )

    @staticmethod
    def authorize(entry: KeyEntry) -> RequestContext:
        """403 for a disabled organization, an organization-scoped key or a missing permission."""
        if not entry.org_enabled:
            raise Forbidden(FLAG_OFF)
        if entry.ctx is None:
            raise Forbidden(ORG_KEY)
        for permission in INVOKE_PERMISSIONS:
            if permission not in entry.ctx.permissions:
                raise Forbidden(f"missing permission {permission}")
        return entry.ctx


def build_table() -> AuthTable:
    """Read keys, roles, memberships, flags, secrets and prices (sync ORM)."""
    from proxy.auth_build import load_keys, load_upstreams

    return AuthTable(
        keys=load_keys(),
        upstreams=load_upstreams(),
        prices=PriceTable.load(),
        peppers=dict(peppers()),
        built_at=time.time(),
    )


def _build_in_worker() -> AuthTable:
    """build_table in the auth thread, on a healthy connection (CONN_MAX_AGE honoured)."""
    from django.db import close_old_connections

    close_old_connections()
    try:
        return build_table()
    finally:
        close_old_connections()


def _close_worker_connection() -> None:
    from django.db import connections

    connections.close_all()


class AuthState:
    """The current AuthTable of this process, and the tasks that keep it fresh."""

    def __init__(self) -> None:
        self.table: AuthTable | None = None
        self._generation = -1
        self._last_attempt = -1e9
        self._lock = asyncio.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-auth")
        self._tasks: list[asyncio.Task[None]] = []

    async def refresh(self) -> None:
        generation = invalidation.generation()
        self._last_attempt = time.monotonic()
        loop = asyncio.get_running_loop()
        try:
            table = await loop.run_in_executor(self._executor, _build_in_worker)
        except Exception:
            self._generation = generation  # do not retry on every request; the timer will
            logger.exception("could not rebuild the gateway auth table; keeping the previous one")
            return
        self.table = table
        self._generation = generation

    def fresh(self) -> AuthTable | None:
        """The table when current() would return it without a rebuild (the usual case), else
        None: a synchronous fast path that spares the request a coroutine."""
        if self._generation == invalidation.generation():
            return self.table
        return None

    async def current(self) -> AuthTable:
        """The table to serve with, rebuilt first if this process changed the data since.

        With no table yet (database down at start-up) a rebuild is tried at most once a
        second, so a burst of requests cannot turn into a burst of database reads."""
        stale = self._generation != invalidation.generation()
        missing = self.table is None and time.monotonic() - self._last_attempt >= 1.0
        if stale or missing:
            async with self._lock:
                if self._generation != invalidation.generation() or (
                    self.table is None and time.monotonic() - self._last_attempt >= 1.0
                ):
                    await self.refresh()
        if self.table is None:
            raise ProxyError("the gateway cannot read its configuration yet", status=503)
        return self.table

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._timer(), name="gateway-auth-refresh"))
        if settings.REDIS_URL:
            self._tasks.append(loop.create_task(self._listen(), name="gateway-auth-invalidation"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await asyncio.get_running_loop().run_in_executor(self._executor, _close_worker_connection)
        self._executor.shutdown(wait=False)

    async def _timer(self) -> None:
        while True:
            await asyncio.sleep(settings.GATEWAY_AUTH_REFRESH_SECONDS)
            await self.refresh()

    async def _listen(self) -> None:
        """Rebuild on every invalidation message; reconnect with a bounded back-off."""
        import redis.asyncio as aioredis

        delay = 1.0
        while True:
            client = aioredis.Redis.from_url(settings.REDIS_URL)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(invalidation.CHANNEL)
                    delay = 1.0
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("gateway invalidation channel lost; retrying in %.0f s", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
            finally:
                await client.aclose()
