"""A webhook receiver on a loopback port for tests of outgoing webhooks (budget alerts): it
records every POST (headers and body) and answers 500 to the first `fail_first` of them.

    with webhook_receiver(fail_first=1) as receiver:
        ... receiver.url ...
        receiver.wait_for(3, timeout=30)   # the answered-2xx posts, bounded wait
        receiver.posts, receiver.failed
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    fail_first: int = 0
    posts: list[Received] = field(default_factory=list)  # answered 200
    failed: list[Received] = field(default_factory=list)  # answered 500
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int, timeout: float) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.posts) >= count:
                    return list(self.posts)
            time.sleep(0.05)
        with self.lock:
            return list(self.posts)


@contextlib.contextmanager
def webhook_receiver(fail_first: int = 0) -> Iterator[Receiver]:
    receiver = Receiver(url="", fail_first=fail_first)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            got = Received(
                self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length)
            )
            with receiver.lock:
                fail = len(receiver.failed) < receiver.fail_first
                (receiver.failed if fail else receiver.posts).append(got)
            self.send_response(500 if fail else 200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/budget"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
