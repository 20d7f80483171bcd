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
        self._header_count = 0
        self._header_bytes = 0
        self._refused = False
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None

    # -- connection ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
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
        self._url_bytes = self._header_count = self._header_bytes = 0
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def on_url(self, url: bytes) -> None:
        self._url_bytes += len(url)
        if self._url_bytes > self.max_request_line:
            self._refuse(414, "request line too long")
            raise _Refused
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._header_bytes += len(name) + len(value) + 4
        if self._header_count > self.max_headers or self._header_bytes > self.max_head_bytes:
            self._refuse(431, "request header fields too large")
            raise _Refused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_received = 0
        self._head_tail = b""
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().on_headers_complete()
        # The request's cycle, just made by uvicorn (its task runs from the next loop pass):
        # ours, which writes a response's head with its body (see CoalescingCycle).
        if type(self.cycle) is RequestResponseCycle:
            self.cycle.__class__ = CoalescingCycle
        if self._expects_body():
            self._arm_body_timer()

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        if self._body_timer is not None:
            self._arm_body_timer()

    def on_message_complete(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        super().on_message_complete()
        self._in_head = True  # whatever arrives next is the head of the next request
        self._head_received = 0

    # -- limits -------------------------------------------------------------------------------
    def _expects_body(self) -> bool:
        for name, value in self.headers:
            if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
                return True
        return False

    def _arm_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
        self._body_timer = self.loop.call_later(self.body_timeout, self._body_timed_out)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            if self._head_received or self._url_bytes:
                self._refuse(408, "request headers not received in time")
            else:
                self.transport.close()  # a connection that never sent a request

    def _body_timed_out(self) -> None:
        self._body_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_started:
            self._refuse(408, "request body not received in time")
        else:
            self.transport.close()

    def _refuse(self, status: int, message: str) -> None:
        """Answer `status` with a plain-text reason and close the connection."""
        self._refused = True
        self._cancel_timers()
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

    def _cancel_timers(self) -> None:
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = None


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
