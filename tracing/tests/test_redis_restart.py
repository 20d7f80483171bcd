"""Redis restarted under traffic: every call answered is stored as one run (calls = runs).

The test starts its own redis-server on a loopback port (never the shared one), a real gateway
shipping records to it, callers in a thread, and the drain as Celery beat runs it. Redis is
killed twice: once with persistence (a crash: it comes back with the stream and the consumer
group), once coming back empty (no persistence, a failover: stream and group are gone).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from devtools.testing import running_gateway
from tracing.models import Run
from tracing.shipping import runs_drain

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]


class OwnRedis:
    """A redis-server of this test's own on 127.0.0.1:<free port>, restartable."""

    def __init__(self, directory: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self, *, persistent: bool) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if persistent else []
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--dir",
                str(self.directory),
                *(persistence or ["--appendonly", "no"]),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()  # SIGKILL: a crash, nothing flushed on the way out
            self.process.wait(10)
            self.process = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path / "redis")
    try:
        yield server
    finally:
        server.kill()


def test_calls_equal_runs_across_redis_restarts(
    own_redis: OwnRedis, owner: Any, settings: Any, tmp_path: Path
) -> None:
    own_redis.start(persistent=True)
    settings.REDIS_URL = own_redis.url
    settings.GATEWAY_RECORD_STREAM = "gw:runs:restart-test"
    settings.GATEWAY_SPOOL_DIR = str(tmp_path / "spool")
    answered: list[int] = []
    stop = threading.Event()

    with running_gateway(
        GATEWAY_RECORD_SINK="tracing.shipping.ship_records",
        REDIS_URL=own_redis.url,
        GATEWAY_RECORD_STREAM="gw:runs:restart-test",
        GATEWAY_SPOOL_DIR=str(tmp_path / "spool"),
    ) as gw:
        gw.give_secrets(owner.workspace)

        def callers() -> None:
            with httpx.Client(timeout=10) as client:
                while not stop.is_set() and len(answered) < 400:
                    response = client.post(
                        f"{gw.url}/openai/v1/chat/completions",
                        json={
                            "model": "gpt-4o-mini",
                            "messages": [{"role": "user", "content": "x"}],
                        },
                        headers={"authorization": f"Bearer {owner.plaintext_key}"},
                    )
                    answered.append(response.status_code)
                    time.sleep(0.005)

        def drain_for(seconds: float) -> None:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                with contextlib.suppress(redis.RedisError):  # down: beat retries a second later
                    runs_drain(max_seconds=0.5)
                time.sleep(0.05)

        _wait_for_auth(gw, owner)
        traffic = threading.Thread(target=callers, daemon=True)
        traffic.start()
        drain_for(1.0)

        # 1. A crash with persistence, under traffic: back with its stream and group.
        own_redis.kill()
        drain_for(0.5)  # calls go on meanwhile: the gateway spools their records
        own_redis.start(persistent=True)
        drain_for(1.5)

        # 2. Back empty (no persistence, a failover): stream and consumer group are gone.
        stop.set()
        traffic.join(15)
        _wait_recorded(gw)
        _drain_until_empty(own_redis.url)
        own_redis.kill()
        shutil.rmtree(own_redis.directory)
        own_redis.start(persistent=False)
        stop.clear()
        traffic = threading.Thread(target=callers, daemon=True)
        traffic.start()
        drain_for(1.5)
        stop.set()
        traffic.join(15)
        _wait_recorded(gw)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and _runs(owner) < len(answered):
            drain_for(0.3)

    calls = sum(1 for status in answered if status == 200)
    assert calls == len(answered) and calls > 20
    assert _runs(owner) == calls


def _runs(owner: Any) -> int:
    return Run.objects.filter(workspace_id=owner.workspace.pk, name="ChatCompletions").count()


def _wait_for_auth(gw: Any, owner: Any) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        response = httpx.get(
            f"{gw.url}/openai/v1/models", headers={"authorization": f"Bearer {owner.plaintext_key}"}
        )
        if response.status_code == 200:
            gw.reset()
            return
        time.sleep(0.1)
    raise RuntimeError("the gateway never accepted the key")


def _wait_recorded(gw: Any) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (gw.app.inflight or gw.app.recorder.pending()):
        time.sleep(0.02)


def _drain_until_empty(url: str) -> None:
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        runs_drain(max_seconds=0.5)
        if client.xlen("gw:runs:restart-test") == 0:
            return
        time.sleep(0.05)
    raise RuntimeError("the stream never drained")
