"""The proxy's upstream HTTP/1.1 client: pooled keep-alive connections, one call at a time on
each, parsed by httptools (llhttp, the parser uvicorn serves with).

Why not aiohttp's ClientSession for the calls: measured with callgrind on the bench's floor (a
pass-through of one chat completion, 1,000 sequential calls), aiohttp's client costs about
336,000 user-space instructions per call of the floor's 572,000; the same pass-through on this
client costs 236,000 in all, on aiosonic 759,000 and on rnet 418,000. aiohttp's session is
still the process's client for everything else (model listings, token minting): only the
provider call itself goes through here.

What it does, and no more:
- one connection per call at a time, kept alive after a complete answer (idle connections
  closed after KEEPALIVE_SECONDS; one the provider closed while idle is never reused);
- TLS through asyncio's transports (the system's default verification, as aiohttp's);
- request: the caller's method, path, headers and body as given, plus Host, Content-Length
  and Accept-Encoding: gzip, deflate (answers decompressed, as aiohttp does);
- answer: status and raw headers once the head arrived; the body whole (`read`) or chunk by
  chunk as it arrives (`content.iter_any`), chunked or with a length or until the close;
  reading pauses while the caller holds more than BUFFER_HIGH bytes unread;
- timeouts: connecting (`connect_timeout`), and each wait for the provider's bytes
  (`read_timeout`: one timer per call, pushed forward by arriving data, never firing while
  the reader is the one behind);
- errors are aiohttp's exception classes (the proxy maps them to 502/504 in the caller's
  envelope): NotConnected when nothing was sent (ConnectTimeout, also a TimeoutError, when
  connecting timed out; UnsafeRequest when a request line or header would hold a line break or
  the target a space or control character, so nothing a caller sends can split the request),
  ConnectionLost when the provider closed or reset mid-answer,
  BadResponse for an answer that is not HTTP; TimeoutError for a read timeout.
A cancelled call closes its connection (the provider sees it go and stops generating).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import ssl
import zlib
from collections import deque
from typing import Any

import aiohttp
import httptools

KEEPALIVE_SECONDS = 60.0  # an idle connection older than this is closed, not reused
BUFFER_HIGH = 256 * 1024  # unread bytes above which the connection stops reading
BUFFER_LOW = 64 * 1024
ACCEPT_ENCODING = b"accept-encoding: gzip, deflate\r\n"
# A request target or authority may hold no space or control character; a header field no line
# break or NUL (what would let a value inside the request, a model name, split it).
_UNSAFE_TARGET = re.compile(rb"[\x00-\x20\x7f]")


class NotConnected(aiohttp.ClientConnectionError):
    """The connection could not be opened: nothing reached the provider."""


class ConnectTimeout(NotConnected, TimeoutError):
    """The connection did not open in time (a timeout: 504; nothing reached the provider)."""


class UnsafeRequest(NotConnected):
    """The request cannot be written as given (see _UNSAFE_TARGET): nothing was sent."""


class ConnectionLost(aiohttp.ServerDisconnectedError):
    """The provider closed or reset the connection before its answer was complete."""


class BadResponse(aiohttp.ClientPayloadError):
    """The provider's bytes are not an HTTP/1.1 answer (or one this client cannot decode)."""


class _Headers(dict[str, str]):
    """The answer's headers by lowercase name (the last one of a repeated name): what the
    proxy reads (`content-type`); `raw_headers` keeps them all, as sent."""


class Response:
    """One answer: its head at once, its body as it arrives."""

    __slots__ = ("_conn", "_headers", "content", "content_type", "raw_headers", "status")

    def __init__(
        self,
        conn: _Connection,
        status: int,
        raw_headers: list[tuple[bytes, bytes]],
        content_type: str,
    ) -> None:
        self._conn = conn
        self.status = status
        self.raw_headers = raw_headers
        self.content_type = content_type  # the Content-Type header as sent ("" when none)
        self._headers: _Headers | None = None
        self.content = self  # aiohttp's resp.content.iter_any() / read(n), on the response

    @property
    def headers(self) -> _Headers:
        if self._headers is None:
            self._headers = _Headers(
                (name.decode("latin-1").lower(), value.decode("latin-1"))
                for name, value in self.raw_headers
            )
        return self._headers

    async def read(self, limit: int = -1) -> bytes:
        """The whole body (decompressed); at most `limit` bytes when given (the rest is left:
        the connection is then closed at release)."""
        conn = self._conn
        chunks = []
        size = 0
        while limit < 0 or size < limit:
            chunk = await conn.next_chunk()
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return data if limit < 0 else data[:limit]

    def iter_any(self) -> _Chunks:
        return _Chunks(self._conn)

    def release(self) -> None:
        """Done with the answer: its connection goes back to the pool when the answer was
        read whole, and is closed otherwise."""
        self._conn.release()

    def close(self) -> None:
        self._conn.close()


class _Chunks:
    __slots__ = ("_conn",)

    def __init__(self, conn: _Connection) -> None:
        self._conn = conn

    def __aiter__(self) -> _Chunks:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self._conn.next_chunk()
        if not chunk:
            raise StopAsyncIteration
        return chunk


class _Connection(asyncio.Protocol):
    """One keep-alive connection to an origin and the answer in progress on it."""

    def __init__(self, pool: _Pool) -> None:
        self.pool = pool
        self.loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.idle_since = 0.0
        self.active = False  # a request was sent and its answer not released yet
        self.slot = False  # holds one of the client's max_connections slots
        self.lost = False
        self.reusable = False
        self._head: asyncio.Future[Response] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._paused = False
        self._done = False
        self._until_close = False
        self._error: BaseException | None = None
        self._decoder: Any = None
        self._raw: list[tuple[bytes, bytes]] = []
        self._informational = False
        self._head_only = False
        self._timer: asyncio.TimerHandle | None = None
        self._read_timeout = 0.0
        self._last_data = 0.0

    # -- asyncio protocol ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if not self.active or self._done:  # bytes nobody asked for: never reuse this one
            self.close()
            return
        self._last_data = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(BadResponse("the provider switched protocols"))
        except httptools.HttpParserError as exc:
            self._fail(BadResponse(f"the provider's answer is not HTTP/1.1 ({exc})"))

    def eof_received(self) -> bool | None:
        return None  # close the transport (connection_lost follows)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.reusable = False
        self.pool.forget(self)
        if not self.active or self._done or self._error is not None:
            self._stop_timer()
            return
        if self._until_close and self._head is None:
            self._finish()  # an answer without length or chunks ends with the connection
            return
        self._fail(ConnectionLost("the provider closed the connection before its answer ended"))

    # -- parser callbacks ---------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._raw = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self._raw.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200:  # an interim answer: the real one follows
            self._informational = True
            return
        length = chunked = False
        encoding = content_type = b""
        for name, value in self._raw:
            lowered = name.lower()
            if lowered == b"content-type":
                content_type = value
            elif lowered == b"content-length":
                length = True
            elif lowered == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif lowered == b"content-encoding":
                encoding = value.strip().lower()
        self._until_close = not length and not chunked and status not in (204, 304)
        if encoding in (b"gzip", b"deflate", b"x-gzip"):
            self._decoder = zlib.decompressobj(wbits=47)  # zlib or gzip header, detected
        elif encoding not in (b"", b"identity"):
            self._fail(BadResponse(f"the provider's answer is encoded as {encoding!r}"))
            return
        # (after a HEAD the parser would read the announced length as a body: not reused)
        self.reusable = self.parser.should_keep_alive() and not self._head_only
        head, self._head = self._head, None
        if head is not None and not head.done():
            head.set_result(Response(self, status, self._raw, content_type.decode("latin-1")))
        if self._head_only:
            self._finish()

    def on_body(self, body: bytes) -> None:
        if self._informational or self._done:
            return
        if self._decoder is not None:
            try:
                body = self._decoder.decompress(body)
            except zlib.error:
                self._fail(BadResponse("the provider's compressed answer is corrupt"))
                return
            if not body:
                return
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > BUFFER_HIGH and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._informational:
            self._informational = False
            return
        if not self._done:
            self._finish()

    # -- the call ----------------------------------------------------------------------------
    def send(self, request: bytes, read_timeout: float | None, head_only: bool) -> None:
        """Write a request; its answer's head is then awaited with `head()`."""
        assert self.transport is not None
        self.active = True
        self._head = self.loop.create_future()
        self._chunks.clear()
        self._buffered = 0
        self._done = self._until_close = self._informational = False
        self._head_only = head_only
        self._error = None
        self._decoder = None
        self.reusable = False
        self._last_data = self.loop.time()
        if read_timeout:
            self._read_timeout = read_timeout
            self._timer = self.loop.call_at(self._last_data + read_timeout, self._check_timeout)
        self.transport.write(request)

    async def head(self) -> Response:
        assert self._head is not None
        return await self._head

    async def next_chunk(self) -> bytes:
        """The next piece of the body, b"" at its end; raises what broke it."""
        while True:
            if self._chunks:
                chunk = self._chunks.popleft()
                self._buffered -= len(chunk)
                if self._paused and self._buffered < BUFFER_LOW and self.transport is not None:
                    self._paused = False
                    self.transport.resume_reading()
                return chunk
            if self._error is not None:
                raise self._error
            if self._done:
                if self._decoder is not None:
                    tail, self._decoder = self._decoder.flush(), None
                    if tail:
                        return tail
                return b""
            self._waiter = self.loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def release(self) -> None:
        if not self.active:
            return
        if self._done and self._error is None and self.reusable and not self._chunks:
            self.active = False
            self._stop_timer()
            self.pool.client.free_slot(self)
            self.pool.put(self)
        else:
            self.close()

    def close(self) -> None:
        self.active = False
        self._stop_timer()
        self.reusable = False
        if self.transport is not None and not self.lost:
            self.transport.close()
        self.lost = True
        self.pool.forget(self)
        self.pool.client.free_slot(self)

    # -- inside ------------------------------------------------------------------------------
    def _finish(self) -> None:
        self._done = True
        self._stop_timer()
        self._wake()

    def _fail(self, exc: BaseException) -> None:
        self._error = exc
        self.reusable = False
        self._stop_timer()
        head, self._head = self._head, None
        if head is not None and not head.done():
            head.set_exception(exc)
        self._wake()
        if self.transport is not None and not self.lost:
            self.transport.close()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check_timeout(self) -> None:
        """The read timer: fails the answer only when the provider has been silent for the
        whole read timeout while the answer was awaited (not while the reader is behind)."""
        self._timer = None
        if self._done or self._error is not None:
            return
        now = self.loop.time()
        if self._paused or (self._head is None and self._waiter is None):
            self._last_data = now  # the reader is behind: the provider's silence is not counted
        due = self._last_data + self._read_timeout
        if now < due:
            self._timer = self.loop.call_at(due, self._check_timeout)
            return
        self._fail(TimeoutError("the upstream provider did not answer in time"))


class _Pool:
    """The idle connections of one origin (newest reused first)."""

    def __init__(self, client: UpstreamClient, key: tuple[str, str, int]) -> None:
        self.client = client
        self.key = key
        self.loop = asyncio.get_running_loop()
        self.idle: list[_Connection] = []
        self.open: set[_Connection] = set()

    def take(self) -> _Connection | None:
        now = self.loop.time()
        while self.idle:
            conn = self.idle.pop()
            if not conn.lost and now - conn.idle_since < KEEPALIVE_SECONDS:
                return conn
            conn.close()
        return None

    def put(self, conn: _Connection) -> None:
        if conn.lost or self.client.closed:
            conn.close()
            return
        conn.idle_since = self.loop.time()
        self.idle.append(conn)

    def forget(self, conn: _Connection) -> None:
        self.open.discard(conn)
        if conn in self.idle:
            self.idle.remove(conn)


class UpstreamClient:
    """One per process (proxy.upstream.Upstream), on the serving event loop."""

    def __init__(
        self,
        *,
        connect_timeout: float,
        max_connections: int = 0,
        ssl_context: ssl.SSLContext | None = None,  # None: the system's default verification
    ) -> None:
        self.connect_timeout = connect_timeout
        self.max_connections = max_connections  # 0: no cap
        self.closed = False
        self._pools: dict[tuple[str, str, int], _Pool] = {}
        self._targets: dict[str, tuple[tuple[str, str, int], bytes]] = {}
        self._ssl = ssl_context
        self._slots: asyncio.Semaphore | None = None

    def _target(self, url: str) -> tuple[tuple[str, str, int], bytes, bytes]:
        """(origin key, Host header value, path with query) of an absolute http(s) URL; the
        origins are cached (a handful per process). UnsafeRequest for a URL that cannot be
        written into a request line (the URL itself is never in the message: it may hold
        credentials)."""
        scheme, sep, rest = url.partition("://")
        if not sep or scheme not in ("http", "https"):
            raise UnsafeRequest("the upstream URL is not an http(s) URL")
        authority, slash, path = rest.partition("/")
        try:
            target = ("/" + path if slash else "/").encode("latin-1")
        except UnicodeEncodeError:
            raise UnsafeRequest("the upstream path is not ASCII") from None
        if _UNSAFE_TARGET.search(target):
            raise UnsafeRequest("the upstream path holds a space or a control character")
        origin = f"{scheme}://{authority}"
        found = self._targets.get(origin)
        if found is None:
            try:
                host_header = authority.encode("latin-1")
                parsed = httptools.parse_url(url.encode("latin-1"))
            except (UnicodeEncodeError, httptools.HttpParserInvalidURLError):
                raise UnsafeRequest("the upstream URL cannot be parsed") from None
            if not parsed.host or _UNSAFE_TARGET.search(host_header):
                raise UnsafeRequest("the upstream URL names no usable host")
            port = parsed.port or (443 if scheme == "https" else 80)
            found = ((scheme, parsed.host.decode("latin-1"), port), host_header)
            if len(self._targets) < 1000:
                self._targets[origin] = found
        return found[0], found[1], target

    async def request(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes,
        *,
        read_timeout: float | None,
        connect_timeout: float | None = None,
    ) -> Response:
        """Send the request; the answer once its head arrived (its body is read from it)."""
        key, host, path = self._target(url)
        fields = "".join([f"{name}: {value}\r\n" for name, value in headers])
        lines = len(headers)
        if fields.count("\n") != lines or fields.count("\r") != lines or "\x00" in fields:
            raise UnsafeRequest("a header field holds a line break or a NUL")
        try:
            head = b"%s %s HTTP/1.1\r\nhost: %s\r\n%s" % (
                method.encode("latin-1"),
                path,
                host,
                fields.encode("latin-1"),
            )
        except UnicodeEncodeError:
            raise UnsafeRequest("a header field is not Latin-1 text") from None
        if body or method in ("POST", "PUT", "PATCH"):
            head += b"content-length: %d\r\n" % len(body)
        request = head + ACCEPT_ENCODING + b"\r\n" + body
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = _Pool(self, key)
        if self.max_connections:  # room under the cap (calls in progress), or wait for it
            if self._slots is None:
                self._slots = asyncio.Semaphore(self.max_connections)
            await self._slots.acquire()
        try:
            conn = pool.take()
            if conn is None:
                conn = await self._connect(pool, connect_timeout or self.connect_timeout)
        except BaseException:
            if self._slots is not None:
                self._slots.release()
            raise
        conn.slot = self._slots is not None
        try:
            conn.send(request, read_timeout, head_only=method == "HEAD")
            return await conn.head()
        except BaseException:
            conn.close()  # cancelled or failed mid-request: never reused
            raise

    async def _connect(self, pool: _Pool, timeout: float) -> _Connection:
        if self.closed:
            raise NotConnected("the upstream client is closed")
        scheme, host, port = pool.key
        tls: ssl.SSLContext | None = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            tls = self._ssl
        try:
            async with asyncio.timeout(timeout):
                _, conn = await pool.loop.create_connection(
                    lambda: _Connection(pool),
                    host,
                    port,
                    ssl=tls,
                    server_hostname=host if tls is not None else None,
                )
        except TimeoutError as exc:
            raise ConnectTimeout(f"connecting to {host}:{port} timed out") from exc
        except (OSError, ssl.SSLError) as exc:
            raise NotConnected(f"cannot connect to {host}:{port} ({type(exc).__name__})") from exc
        sock = conn.transport.get_extra_info("socket") if conn.transport is not None else None
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pool.open.add(conn)
        return conn

    def free_slot(self, conn: _Connection) -> None:
        """A call is done with `conn`: its slot under max_connections is free again."""
        if conn.slot:
            conn.slot = False
            if self._slots is not None:
                self._slots.release()

    async def close(self) -> None:
        self.closed = True
        for pool in self._pools.values():
            for conn in [*pool.idle, *pool.open]:
                conn.close()
        self._pools.clear()
        await asyncio.sleep(0)  # let the transports close
