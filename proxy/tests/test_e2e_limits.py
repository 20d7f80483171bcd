"""Limits on untrusted input, against a real server on loopback (the gateway's own HTTP
protocol, as `make serve` runs it): header size and count, request line, header and body read
timeouts, Content-Length, the gateway key in the query, the Host header."""

from __future__ import annotations

import contextlib
import json
import socket
import time

import pytest
from django.test import override_settings

pytestmark = [pytest.mark.e2e]

CHAT = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'


def _connect(gw) -> socket.socket:
    return socket.create_connection(("127.0.0.1", int(gw.url.rsplit(":", 1)[1])), timeout=10)


def _exchange(gw, raw: bytes, limit: float = 5.0) -> bytes:
    """Send raw bytes, return everything the server sends until it closes (bounded)."""
    sock = _connect(gw)
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        sock.sendall(raw)  # (the server may refuse and close while we are still sending)
    return _read_all(sock, limit)


def _read_all(sock: socket.socket, limit: float = 5.0) -> bytes:
    data = b""
    deadline = time.monotonic() + limit
    sock.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            piece = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            break
        if not piece:
            break
        data += piece
    sock.close()
    return data


def _health_is_quick(gw) -> None:
    started = time.monotonic()
    answer = _exchange(gw, b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200") and time.monotonic() - started < 2


def test_a_huge_header_block_is_refused_431_before_it_is_buffered(gw):
    sock = _connect(gw)
    sock.sendall(b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\nx-big: ")
    sent = 0
    try:
        while sent < 4 * 1024 * 1024:  # 4 MiB offered; the server must stop us well before
            sock.sendall(b"a" * 65536)
            sent += 65536
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:100]
    assert sent < 4 * 1024 * 1024 or answer  # refused (usually mid-send)
    _health_is_quick(gw)


def test_too_many_headers_are_refused_431(gw):
    headers = b"".join(b"x-h%d: v\r\n" % i for i in range(150))
    answer = _exchange(gw, b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n" + headers + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 431")


def test_a_huge_request_line_is_refused_414(gw):
    answer = _exchange(gw, b"GET /health?" + b"a" * 20000 + b" HTTP/1.1\r\nhost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 414") or answer.startswith(b"HTTP/1.1 431")


def test_headers_sent_too_slowly_are_cut_off_408(gw):
    with override_settings(GATEWAY_HTTP_HEADER_TIMEOUT=0.5):
        sock = _connect(gw)
        started = time.monotonic()
        sock.sendall(b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n")  # never ends its headers
        answer = _read_all(sock, limit=4)
    assert answer.startswith(b"HTTP/1.1 408") and time.monotonic() - started < 3


def test_a_body_shorter_than_its_content_length_is_408_in_the_callers_envelope(gw, owner):
    saved = gw.app.body_timeout
    gw.app.body_timeout = 0.5
    try:
        answer = _exchange(
            gw,
            b"POST /anthropic/v1/messages HTTP/1.1\r\nhost: 127.0.0.1\r\n"
            + f"x-api-key: {owner.plaintext_key}\r\n".encode()
            + b'content-type: application/json\r\ncontent-length: 1000\r\n\r\n{"model":',
            limit=4,
        )
    finally:
        gw.app.body_timeout = saved
    assert answer.startswith(b"HTTP/1.1 408")
    body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert body["type"] == "error" and body["error"]["type"] == "timeout_error"
    (rec,) = gw.records(1)
    assert rec.http_status == 408 and rec.status == "error" and "request body" in rec.error
    assert gw.upstream_requests() == []


@pytest.mark.parametrize(
    "length",
    [b"1" * 5002, b"-1", b"12abc", b"0x10", b"1e3"],
    ids=["5002-digits", "neg", "alnum", "hex", "exp"],
)
def test_a_content_length_that_is_not_a_number_is_400(gw, owner, length):
    answer = _exchange(
        gw,
        b"POST /openai/v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n"
        + f"authorization: Bearer {owner.plaintext_key}\r\n".encode()
        + b"content-type: application/json\r\ncontent-length: "
        + length
        + b"\r\n\r\n"
        + CHAT,
    )
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert gw.upstream_requests() == []


@pytest.mark.parametrize("spelling", ["key", "KEY", "Key", "%6Bey", "k%65y", "%4B%45%59", "key%20"])
def test_the_gateway_key_never_reaches_the_upstream_in_the_query(gw, owner, spelling):
    path = f"/gemini/v1beta/models/gemini-2.5-flash:generateContent?alt=json&{spelling}={owner.plaintext_key}"
    body = b'{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}'
    answer = _exchange(
        gw,
        f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n".encode()
        + f"x-goog-api-key: {owner.plaintext_key}\r\n".encode()
        + f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n".encode()
        + body,
    )
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    (upstream,) = gw.upstream_requests()
    assert owner.plaintext_key not in upstream["query"]
    assert owner.plaintext_key not in json.dumps(upstream["headers"])
    assert "alt=json" in upstream["query"]


@pytest.mark.parametrize("host", [b"evil.example.com", b"127.0.0.1.evil.example", b""])
def test_a_host_outside_allowed_hosts_is_refused_on_the_proxy_routes(gw, owner, host):
    head = b"POST /openai/v1/chat/completions HTTP/1.1\r\n"
    if host:
        head += b"host: " + host + b"\r\n"
    answer = _exchange(
        gw,
        head
        + f"authorization: Bearer {owner.plaintext_key}\r\nconnection: close\r\n".encode()
        + f"content-type: application/json\r\ncontent-length: {len(CHAT)}\r\n\r\n".encode()
        + CHAT,
    )
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert "Host" in body["error"]["message"]
    assert gw.upstream_requests() == []


@pytest.mark.django_db
def test_make_serve_runs_gunicorn_with_the_gateway_protocol():
    from pathlib import Path

    import uvicorn

    from proxy.http_server import GatewayHttpProtocol, GatewayUvicornWorker

    config = uvicorn.Config("gateway_site.asgi:application", **GatewayUvicornWorker.CONFIG_KWARGS)
    config.load()
    assert config.http_protocol_class is GatewayHttpProtocol
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    assert "-c python:gateway_site.gunicorn_conf" in makefile
    from gateway_site import gunicorn_conf

    assert gunicorn_conf.worker_class == "proxy.http_server.GatewayUvicornWorker"
