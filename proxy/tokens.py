"""OAuth access tokens of Google service accounts (Vertex AI), minted off the hot path.

A token is minted with google-auth (the JWT bearer grant against the key file's token_uri) in a
worker thread, cached per service account key, and refreshed in the background once it is
within REFRESH_AHEAD seconds of expiry, so calls keep using the current token meanwhile; only
the first call of a key (or one after a token ran out) waits for a mint, shared by every call
waiting for it. The cache holds tokens only, keyed by a digest of the key file.
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import hashlib
import json
import logging
import time
from typing import Any

from hotpath.errors import UpstreamUnreachable

logger = logging.getLogger(__name__)

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
REFRESH_AHEAD = 300.0  # seconds before expiry a background refresh starts
MIN_VALID = 30.0  # a token closer than this to expiry is not served
MINT_TIMEOUT = 10.0  # seconds for one token exchange
MAX_KEYS = 1000  # cached service accounts (expired entries are evicted first)


def mint(info_json: str) -> tuple[str, float]:
    """(access token, expiry as epoch seconds) for a service account key file. Blocking."""
    from google.auth.transport.requests import Request
    from google.oauth2 import service_account

    credentials = service_account.Credentials.from_service_account_info(
        json.loads(info_json), scopes=[SCOPE]
    )
    request = Request()

    def bounded(*args: Any, **kwargs: Any) -> Any:
        kwargs["timeout"] = MINT_TIMEOUT
        return request(*args, **kwargs)

    credentials.refresh(bounded)
    expiry = credentials.expiry
    expires_at = calendar.timegm(expiry.utctimetuple()) if expiry else time.time() + 3600
    return str(credentials.token), float(expires_at)


class AccessTokens:
    def __init__(self) -> None:
        self._tokens: dict[str, tuple[str, float]] = {}
        self._minting: dict[str, asyncio.Future[tuple[str, float]]] = {}
        self.mints = 0  # token exchanges started (read by tests)

    async def token(self, info_json: str) -> str:
        key = hashlib.sha256(info_json.encode()).hexdigest()
        found = self._tokens.get(key)
        now = time.time()
        if found is not None and found[1] - now > REFRESH_AHEAD:
            return found[0]
        if found is not None and found[1] - now > MIN_VALID:
            self._start(key, info_json)  # in the background: this call uses the current one
            return found[0]
        try:
            token, _ = await asyncio.shield(self._start(key, info_json))
        except Exception as exc:
            raise UpstreamUnreachable(
                "the Vertex AI service account's access token could not be obtained "
                f"({type(exc).__name__}): check VERTEX_SERVICE_ACCOUNT_JSON"
            ) from None
        return token

    def _start(self, key: str, info_json: str) -> asyncio.Future[tuple[str, float]]:
        running = self._minting.get(key)
        if running is not None:
            return running
        self.mints += 1
        future = asyncio.ensure_future(asyncio.to_thread(mint, info_json))
        self._minting[key] = future

        def done(task: asyncio.Future[tuple[str, float]]) -> None:
            self._minting.pop(key, None)
            if task.cancelled():
                return
            exc = task.exception()
            if exc is not None:
                logger.warning("a Vertex AI token exchange failed: %s", type(exc).__name__)
                return
            self._store(key, task.result())

        future.add_done_callback(done)
        return future

    def _store(self, key: str, token: tuple[str, float]) -> None:
        if len(self._tokens) >= MAX_KEYS and key not in self._tokens:
            now = time.time()
            for stale in [k for k, (_, exp) in self._tokens.items() if exp <= now]:
                del self._tokens[stale]
            if len(self._tokens) >= MAX_KEYS:
                with contextlib.suppress(StopIteration):
                    del self._tokens[next(iter(self._tokens))]
        self._tokens[key] = token

    def clear(self) -> None:
        self._tokens.clear()


# One cache per process (tokens are per service account, not per call or per app).
ACCESS_TOKENS = AccessTokens()
