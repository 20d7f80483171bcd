"""The HTTP/1.1 server protocol of the gateway processes: uvicorn's httptools protocol with the
limits a public endpoint needs, for every route (proxy, admin, API).

uvicorn's httptools protocol bounds none of these: a client, with no key at all, could send a
header block of any size (httptools buffers a header value whole before handing it over), take
as long as it likes to send its headers or its body, and so hold a worker's memory and
connections. Here, per connection:

- request line longer than GATEWAY_HTTP_MAX_REQUEST_LINE → 414;
- more than GATEWAY_HTTP_MAX_HEADERS header fields, or a head (request line and headers) longer
  than GATEWAY_HTTP_MAX_HEADER_BYTES → 431, checked on the bytes as they arrive, before the
  parser buffers them;
- a head not complete GATEWAY_HTTP_HEADER_TIMEOUT seconds after its first byte (or after the
  connection opened) → 408 (slowloris);
- a body silent for longer than GATEWAY_HTTP_BODY_TIMEOUT (+ a grace, so that the proxy's own
  408 in the caller's envelope comes first) → 408, or the connection dropped once a response
  has started.
Each refusal closes the connection. gunicorn's limit_request_* options do not apply to uvicorn
workers; GatewayUvicornWorker (the Makefile's serve target) installs this protocol.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

with warnings.catch_warnings():
    # uvicorn.workers still works and is what gunicorn needs; its deprecation points to a
    # separate package the project does not use.
    warnings.simplefilter("ignore", DeprecationWarning)
    from uvicorn.workers import UvicornWorker

logger = logging.getLogger(__name__)

BODY_TIMEOUT_GRACE = 5.0  # the proxy answers at GATEWAY_HTTP_BODY_TIMEOUT; the server after this
_END_OF_HEAD = b"\r\n\r\n"
_REASONS = {
    408: b"Request Timeout",
    414: b"URI Too Long",
    431: b"Request Header Fields Too Large",
}


class _Refused(Exception):
    """Raised from a parser callback to stop parsing a request that was answered."""


# How often the read deadlines of a worker's connections are checked: a slow client is cut off
# at most this long after its deadline.
SWEEP_SECONDS = 0.1
_IDLE, _HEAD, _BODY = 0, 1, 2  # what a connection's deadline is for


class _Deadlines:
    """The read deadlines of one event loop's connections, checked by one timer every
    SWEEP_SECONDS while any connection is open: a request costs two float stores, not the two
    or three timers (each armed and cancelled) that a timer per phase would cost."""

    _of_loop: dict[asyncio.AbstractEventLoop, _Deadlines] = {}

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.protocols: set[GatewayHttpProtocol] = set()
        self._timer: asyncio.TimerHandle | None = None

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> _Deadlines:
        found = cls._of_loop.get(loop)
        if found is None:
            for old in [known for known in cls._of_loop if known.is_closed()]:
                del cls._of_loop[old]
            found = cls._of_loop[loop] = cls(loop)
        return found

    def add(self, protocol: GatewayHttpProtocol) -> None:
        self.protocols.add(protocol)
        if self._timer is None:
            self._timer = self.loop.call_later(SWEEP_SECONDS, self._sweep)

    def discard(self, protocol: GatewayHttpProtocol) -> None:
        self.protocols.discard(protocol)

    def _sweep(self) -> None:
        self._timer = None
        now = self.loop.time()
        for protocol in [p for p in self.protocols if p.phase and p.deadline <= now]:
            try:
                protocol.timed_out()
            except Exception:
                logger.exception("could not cut off a slow connection")
        if self.protocols:
            self._timer = self.loop.call_later(SWEEP_SECONDS, self._sweep)


class GatewayHttpProtocol(HttpToolsProtocol):
    """uvicorn's HttpToolsProtocol plus the limits above (values from Django's settings, read
    once per connection: the ASGI application, loaded before any connection, set Django up)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from django.conf import settings

        self.max_request_line: int = settings.GATEWAY_HTTP_MAX_REQUEST_LINE
        self.max_headers: int = settings.GATEWAY_HTTP_MAX_HEADERS
        self.max_head_bytes: int = settings.GATEWAY_HTTP_MAX_HEADER_BYTES
        self.header_timeout: float = settings.GATEWAY_HTTP_HEADER_TIMEOUT
        self.body_timeout: float = settings.GATEWAY_HTTP_BODY_TIMEOUT + BODY_TIMEOUT_GRACE
        self._in_head = True  # receiving a request line and headers
        self._head_received = 0  # bytes received while in the head
        self._head_tail = b""  # the last bytes of the head so far (its end may span reads)
        self._url_bytes = 0
        self._refused = False
        # The read deadline (loop time) and what it is for: the head (from its first byte, or
        # from the connection's opening), or the body (from its last chunk).
        self.phase = _IDLE
        self.deadline = 0.0
        self._deadlines = _Deadlines.of(self.loop)

    # -- connection ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.phase, self.deadline = _HEAD, self.loop.time() + self.header_timeout
        self._deadlines.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.phase = _IDLE
        self._deadlines.discard(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._in_head and not self._head_fits(data):
            self._refuse(431, "request header fields too large")
            return
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError:
            if not self._refused:
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
        except httptools.HttpParserError:
            self.logger.warning("Invalid HTTP request received.")
            self.send_400_response("Invalid HTTP request received.")
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()

    def _head_fits(self, data: bytes) -> bool:
        """Whether the head, with `data`, can still end within the allowed size (checked before
        the parser buffers anything)."""
        allowance = self.max_request_line + self.max_head_bytes - self._head_received
        self._head_received += len(data)
        tail = self._head_tail
        self._head_tail = (tail + data[-3:])[-3:]  # no copy of the whole read
        if len(data) <= allowance:
            return True
        return _END_OF_HEAD in tail + data[: max(allowance, 0)]

    # -- parser callbacks ---------------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._url_bytes = 0
        if self.phase != _HEAD:
            self.phase, self.deadline = _HEAD, self.loop.time() + self.header_timeout

    def on_url(self, url: bytes) -> None:
        self._url_bytes += len(url)
        if self._url_bytes > self.max_request_line:
            self._refuse(414, "request line too long")
            raise _Refused
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        # uvicorn's own, inlined (a call less per header field), after the count.
        headers = self.headers
        if len(headers) >= self.max_headers:
            self._refuse(431, "request header fields too large")
            raise _Refused
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        headers.append((name, value))

    def on_headers_complete(self) -> None:
        # The fields' size, measured once they are all in (only when the bytes received could
        # exceed it): _head_fits kept the parser from buffering more than the limits allow.
        if self._head_received > self.max_head_bytes and (
            sum(len(name) + len(value) + 4 for name, value in self.headers) > self.max_head_bytes
        ):
            self._refuse(431, "request header fields too large")
            raise _Refused
        self._in_head = False
        self._head_received = 0
        self._head_tail = b""
        # The body's deadline (a request without one completes before the loop runs again).
        self.phase, self.deadline = _BODY, self.loop.time() + self.body_timeout
        super().on_headers_complete()
        # The request's cycle, just made by uvicorn (its task runs from the next loop pass):
        # ours, which writes a response's head with its body (see CoalescingCycle).
        if type(self.cycle) is RequestResponseCycle:
            self.cycle.__class__ = CoalescingCycle

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        if self.phase == _BODY:
            self.deadline = self.loop.time() + self.body_timeout

    def on_message_complete(self) -> None:
        self.phase = _IDLE
        super().on_message_complete()
        self._in_head = True  # whatever arrives next is the head of the next request
        self._head_received = 0

    # -- limits -------------------------------------------------------------------------------
    def timed_out(self) -> None:
        """The read deadline passed (called by the loop's _Deadlines)."""
        phase, self.phase = self.phase, _IDLE
        if self.transport.is_closing():
            return
        if phase == _HEAD:
            if self._head_received or self._url_bytes:
                self._refuse(408, "request headers not received in time")
            else:
                self.transport.close()  # a connection that never sent a request
        elif self.cycle is not None and not self.cycle.response_started:
            self._refuse(408, "request body not received in time")
        else:
            self.transport.close()

    def _refuse(self, status: int, message: str) -> None:
        """Answer `status` with a plain-text reason and close the connection."""
        self._refused = True
        self.phase = _IDLE
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.response_started = True  # the application must not write after this
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        client = "{}:{}".format(*self.client) if self.client else "-"
        logger.warning("refused a request from %s: %d %s", client, status, message)
        body = message.encode()
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s"
            % (status, _REASONS[status], len(body), body)
        )
        self.transport.close()


class _Captured:
    """Stands in for the transport while uvicorn writes a response head: keeps the bytes."""

    __slots__ = ("closing", "data")

    def __init__(self) -> None:
        self.data = b""
        self.closing = False

    def write(self, data: bytes) -> None:
        self.data += data

    def close(self) -> None:
        self.closing = True


class CoalescingCycle(RequestResponseCycle):
    """uvicorn's request/response cycle, except that the head of a response with a
    Content-Length goes out in the same write as the first body bytes: one send on the socket
    per answer instead of two (the client is woken once, the kernel works once). A streamed
    (chunked) head, or one of an empty body, is written at once as before, so a stream's
    client gets its headers as soon as the application sent them."""

    _held_head: bytes | None = None

    async def send(self, message: Any) -> None:
        head = self._held_head
        starting = message["type"] == "http.response.start" and not self.response_started
        if not starting and head is None:
            await super().send(message)
            return
        if self.flow.write_paused and not self.disconnected:
            await self.flow.drain()  # first: uvicorn's send then runs without suspending
        transport, captured = self.transport, _Captured()
        self.transport = captured  # type: ignore[assignment]
        try:
            await super().send(message)
        finally:
            self.transport = transport
        if starting:
            if self.chunked_encoding is False and self.expected_content_length > 0:
                self._held_head = captured.data
            elif captured.data:
                transport.write(captured.data)
            return
        self._held_head = None
        if not self.disconnected:
            transport.write(head + captured.data)  # type: ignore[operator]
        if captured.closing:
            transport.close()


def body_received(receive: Any) -> bool:
    """Whether `receive` (an ASGI receive callable) is this server's and the request's whole
    body has arrived: its next message is then ready at once."""
    cycle = getattr(receive, "__self__", None)
    return type(cycle) is CoalescingCycle and cycle.more_body is False


def cut_off(graceful_timeout: float) -> float:
    """When, after SIGTERM, uvicorn cancels the calls still running: what is left of
    gunicorn's graceful timeout (10 %, at least 2 s and at most 5 s, never more than half)
    is the time to record and flush the cut calls, let the record writer store them, and
    exit."""
    margin = min(max(graceful_timeout * 0.1, 2.0), 5.0, graceful_timeout / 2)
    return graceful_timeout - margin


class GatewayUvicornWorker(UvicornWorker):
    """gunicorn worker class of `make serve` (gateway_site/gunicorn_conf.py): uvicorn (uvloop)
    with GatewayHttpProtocol, and a graceful shutdown that ends inside gunicorn's own.

    At SIGTERM the worker stops accepting and lets the calls in progress (streams above all)
    finish, but gunicorn kills it outright `graceful_timeout` seconds later, and a killed worker
    records nothing. So uvicorn is told to give up a little earlier (cut_off): the calls still
    running are cancelled, each is recorded as an error ("the gateway shut down before the
    call ended"), the recorder flushes, and the worker exits before the kill."""

    CONFIG_KWARGS = {"loop": "auto", "http": "proxy.http_server:GatewayHttpProtocol"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config.timeout_graceful_shutdown = cut_off(float(self.cfg.graceful_timeout))
