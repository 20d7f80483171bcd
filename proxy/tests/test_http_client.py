"""The upstream client against a raw HTTP server on loopback (bytes written by hand, so every
framing and failure a provider can produce is produced exactly)."""

from __future__ import annotations

import asyncio
import gzip
import ssl
import subprocess
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest

from proxy.http_client import (
    BadResponse,
    ConnectionLost,
    NotConnected,
    UnsafeRequest,
    UpstreamClient,
)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, bytes], Awaitable[bool]]
OK = b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{"ok":true}'


class RawServer:
    """Answers each request with `handler(reader, writer, request_head)`; the handler returns
    whether the connection stays open for another request."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[bytes] = []
        self.closed = asyncio.Event()
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length) if length else b""
                self.requests.append(head + body)
                if not await self.handler(reader, writer, head):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.closed.set()
            writer.close()

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[tuple[RawServer, str]]]]:
    servers: list[RawServer] = []

    async def start(handler: Handler) -> tuple[RawServer, str]:
        server = RawServer(handler)
        servers.append(server)
        return server, await server.start()

    yield start
    for server in servers:
        await server.stop()


def answer(data: bytes, keep: bool = True) -> Handler:
    async def handler(reader, writer, head) -> bool:
        writer.write(data)
        await writer.drain()
        return keep

    return handler


@pytest.fixture
async def client() -> AsyncIterator[UpstreamClient]:
    made = UpstreamClient(connect_timeout=2)
    yield made
    await made.close()


async def test_a_whole_answer_and_the_connection_reused(serve, client) -> None:
    server, url = await serve(answer(OK))
    for _ in range(3):
        resp = await client.request(
            "POST",
            url + "/v1/chat?x=1",
            [("content-type", "application/json")],
            b"{}",
            read_timeout=5,
        )
        assert resp.status == 200 and resp.headers.get("content-type") == "application/json"
        assert await resp.read() == b'{"ok":true}'
        resp.release()
    assert server.connections == 1
    request = server.requests[0]
    assert request.startswith(b"POST /v1/chat?x=1 HTTP/1.1\r\n")
    assert b"\r\ncontent-length: 2\r\n" in request and request.endswith(b"\r\n\r\n{}")
    assert b"user-agent" not in request.lower()  # none added


async def test_chunked_gzip_and_until_close_answers(serve, client) -> None:
    packed = gzip.compress(b'{"a":1}')
    chunked = (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-encoding: gzip\r\n\r\n"
        + b"%x\r\n%s\r\n" % (5, packed[:5])
        + b"%x\r\n%s\r\n" % (len(packed) - 5, packed[5:])
        + b"0\r\n\r\n"
    )
    _, url = await serve(answer(chunked))
    resp = await client.request("GET", url + "/", [], b"", read_timeout=5)
    assert await resp.read() == b'{"a":1}'
    assert (b"content-encoding", b"gzip") in resp.raw_headers
    resp.release()

    deflated = zlib.compress(b"data: x\n\n")
    until_close = b"HTTP/1.1 200 OK\r\ncontent-encoding: deflate\r\n\r\n" + deflated
    _, url = await serve(answer(until_close, keep=False))
    resp = await client.request("GET", url + "/", [], b"", read_timeout=5)
    assert b"".join([chunk async for chunk in resp.content.iter_any()]) == b"data: x\n\n"
    resp.release()


async def test_a_stream_arrives_chunk_by_chunk(serve, client) -> None:
    release = asyncio.Event()

    async def stream(reader, writer, head) -> bool:
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\n\r\n" + b"6\r\ndata 1\r\n"
        )
        await writer.drain()
        await release.wait()
        writer.write(b"6\r\ndata 2\r\n0\r\n\r\n")
        await writer.drain()
        return True

    _, url = await serve(stream)
    resp = await client.request("POST", url + "/s", [], b"{}", read_timeout=5)
    chunks = resp.content.iter_any()
    assert await chunks.__anext__() == b"data 1"  # before the rest was even written
    release.set()
    assert await chunks.__anext__() == b"data 2"
    with pytest.raises(StopAsyncIteration):
        await chunks.__anext__()
    resp.release()


async def test_a_provider_that_closes_mid_answer_is_a_lost_connection(serve, client) -> None:
    cut = b'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"partial"'
    _, url = await serve(answer(cut, keep=False))
    resp = await client.request("POST", url + "/", [], b"{}", read_timeout=5)
    with pytest.raises(ConnectionLost) as raised:
        await resp.read()
    assert isinstance(raised.value, aiohttp.ClientError)
    resp.release()


async def test_a_silent_provider_times_out(serve, client) -> None:
    async def silent(reader, writer, head) -> bool:
        await asyncio.sleep(5)
        return False

    _, url = await serve(silent)
    started = asyncio.get_running_loop().time()
    with pytest.raises(TimeoutError):
        await client.request("POST", url + "/", [], b"{}", read_timeout=0.3)
    assert asyncio.get_running_loop().time() - started < 2

    async def stalls(reader, writer, head) -> bool:  # the head, then nothing
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n12")
        await writer.drain()
        await asyncio.sleep(5)
        return False

    _, url = await serve(stalls)
    resp = await client.request("POST", url + "/", [], b"{}", read_timeout=0.3)
    with pytest.raises(TimeoutError):
        await resp.read()
    resp.close()


async def test_nothing_listening_is_not_connected(client) -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    with pytest.raises(NotConnected):
        await client.request("POST", f"http://127.0.0.1:{port}/", [], b"{}", read_timeout=1)


async def test_an_answer_that_is_not_http_is_refused(serve, client) -> None:
    _, url = await serve(answer(b"SSH-2.0-OpenSSH_9.6\r\n\r\n", keep=False))
    with pytest.raises(BadResponse):
        await client.request("GET", url + "/", [], b"", read_timeout=2)


async def test_a_cancelled_call_closes_its_connection(serve, client) -> None:
    async def slow(reader, writer, head) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n")
        await writer.drain()
        await reader.read()  # until the client goes
        return False

    server, url = await serve(slow)
    resp = await client.request("POST", url + "/", [], b"{}", read_timeout=5)
    reading = asyncio.ensure_future(resp.read())
    await asyncio.sleep(0.05)
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
    resp.close()
    await asyncio.wait_for(server.closed.wait(), 2)  # the provider saw the connection go


async def test_a_connection_closed_while_idle_is_not_reused(serve, client) -> None:
    server, url = await serve(answer(OK, keep=False))  # closes after each answer
    for _ in range(2):
        resp = await client.request("GET", url + "/", [], b"", read_timeout=5)
        assert await resp.read() == b'{"ok":true}'
        resp.release()
        await asyncio.sleep(0.05)  # the close arrives while the connection is idle
    assert server.connections == 2


async def test_max_connections_holds_calls_until_one_is_released(serve) -> None:
    server, url = await serve(answer(OK))
    capped = UpstreamClient(connect_timeout=2, max_connections=1)
    try:
        first = await capped.request("GET", url + "/", [], b"", read_timeout=5)
        second = asyncio.ensure_future(capped.request("GET", url + "/", [], b"", read_timeout=5))
        await asyncio.sleep(0.05)
        assert not second.done()  # waits for the first call's connection
        await first.read()
        first.release()
        resp = await asyncio.wait_for(second, 2)
        assert await resp.read() == b'{"ok":true}'
        resp.release()
        assert server.connections == 1
    finally:
        await capped.close()


def _self_signed(tmp_path) -> tuple[str, str]:
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            key,
            "-out",
            cert,
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


async def test_tls_is_verified_and_works_with_a_trusted_certificate(tmp_path) -> None:
    cert, key = _self_signed(tmp_path)
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)

    async def handle(reader, writer) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=served)
    url = f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    try:
        default = UpstreamClient(connect_timeout=2)  # the system's CAs: this one is unknown
        with pytest.raises(NotConnected):
            await default.request("GET", url, [], b"", read_timeout=2)
        await default.close()
        trusting = ssl.create_default_context(cafile=cert)
        client = UpstreamClient(connect_timeout=2, ssl_context=trusting)
        resp = await client.request("GET", url, [], b"", read_timeout=2)
        assert resp.status == 200 and await resp.read() == b'{"ok":true}'
        resp.release()
        await client.close()
    finally:
        server.close()
        await server.wait_closed()


async def test_nothing_can_split_the_request(serve, client) -> None:
    server, url = await serve(answer(OK))
    for path, headers in [
        ("/v1/x HTTP/1.1\r\nx-injected: 1", []),
        ("/v1/a b", []),
        ("/v1/ok", [("x-note", "fine\r\nx-injected: 1")]),
        ("/v1/ok", [("x-note\nx-injected", "1")]),
        ("/v1/ok", [("x-note", "nul\x00")]),
    ]:
        with pytest.raises(UnsafeRequest) as raised:
            await client.request("POST", url + path, headers, b"{}", read_timeout=2)
        assert "injected" not in str(raised.value)
    assert server.requests == [] and server.connections == 0
