"""A spend reservation under a real gunicorn worker (the embedded mode: SQLite counters;
PostgreSQL + Redis: the Redis script), with a reservation TTL of 1 s: a stream held open for
longer keeps its budget reserved (the worker's heartbeat extends it), and once the worker is
killed (kill -9: no settlement, no more beats) the reservation expires and frees the budget."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings
from django.db import connection

from devtools.served import embedded_database, fake_provider_thread, gateway_env, served_gateway

pytestmark = pytest.mark.e2e

ROOT = Path(settings.BASE_DIR)
# A call reserves ~$0.0004 (its input bound and 400 output tokens of gpt-4o-mini) and costs far
# less: the cap holds one open reservation, never two.
CAP = "0.0006"
BODY = b'{"model":"gpt-4o-mini","max_tokens":400,"messages":[{"role":"user","content":"x"}]}'


@pytest.fixture(scope="module")
def fake_url() -> Iterator[str]:
    with fake_provider_thread() as url:
        yield url


@pytest.fixture
def embedded(fake_url: str, tmp_path: Path) -> tuple[dict[str, str], str, str]:
    env, key = embedded_database(tmp_path, fake_url)
    return env, key, "served"


@pytest.fixture
def production(owner: Any, fake_url: str) -> tuple[dict[str, str], str, str]:
    """The test database and this session's Redis database."""
    import redis

    from secrets_vault.services import secret_set

    secret_set(workspace=owner.workspace, name="OPENAI_API_KEY", value="sk-0", base_url=fake_url)
    db = connection.settings_dict
    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    env = gateway_env(
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        REDIS_URL=os.environ["REDIS_URL"],
        GATEWAY_RECORD_STREAM=f"test:runs:{uuid.uuid4().hex}",
    )
    return env, owner.plaintext_key, owner.organization.slug


@pytest.fixture(
    params=[
        "embedded",
        pytest.param(
            "production",
            marks=[
                pytest.mark.postgres,
                pytest.mark.redis,
                pytest.mark.django_db(transaction=True, serialized_rollback=True),
            ],
        ),
    ]
)
def mode(request: Any) -> tuple[dict[str, str], str, str]:
    env, key, org = request.getfixturevalue(request.param)
    return {**env, "GATEWAY_SPEND_RESERVATION_TTL": "1"}, key, org


def call(url: str, key: str) -> int:
    response = httpx.post(
        f"{url}/openai/v1/chat/completions",
        content=BODY,
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
        timeout=10,
    )
    return response.status_code


def open_stream(url: str, key: str) -> socket.socket:
    """A streamed call whose provider pauses 20 s after the first event; returns once that
    event arrived (the reservation is held)."""
    body = BODY[:-1] + b',"stream":true}'
    sock = socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=10)
    sock.sendall(
        b"POST /openai/v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n"
        + f"authorization: Bearer {key}\r\ncontent-length: {len(body)}\r\n".encode()
        + b"content-type: application/json\r\nx-fake-stream-pause-ms: 20000\r\n\r\n"
        + body
    )
    data, deadline = b"", time.monotonic() + 10
    while b'"role":"assistant"' not in data and time.monotonic() < deadline:
        data += sock.recv(65536)
    assert b" 200 " in data.split(b"\r\n", 1)[0], data[:200]
    return sock


def test_a_long_stream_holds_its_reservation_until_its_worker_dies(
    mode: tuple[dict[str, str], str, str],
) -> None:
    env, key, org = mode
    done = subprocess.run(
        [
            *(sys.executable, "manage.py", "gateway_spend_limit", "--scope", "organization"),
            *("--subject", org, "--window", "daily", "--usd", CAP),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    with served_gateway(env, workers=1) as gw:
        (worker,) = gw.worker_pids()
        stream = open_stream(gw.url, key)
        try:
            time.sleep(1.5)  # past the 1 s TTL: only the heartbeat keeps the reservation
            assert call(gw.url, key) == 402
            time.sleep(1.0)
            assert call(gw.url, key) == 402
            os.kill(worker, signal.SIGKILL)  # no settlement, no more beats
        finally:
            stream.close()
        killed = time.monotonic()
        deadline = killed + 60
        while gw.worker_pids() in ([], [worker]):
            assert time.monotonic() < deadline, "gunicorn did not replace the worker"
            time.sleep(0.1)
        # The dead worker's reservation expires at most one TTL after its last beat.
        statuses = []
        while time.monotonic() < deadline:
            try:
                statuses.append(call(gw.url, key))
            except httpx.TransportError:  # the new worker is still starting
                statuses.append(0)
            if statuses[-1] == 200:
                break
            time.sleep(0.2)
        assert statuses[-1] == 200, statuses
        assert set(statuses) <= {0, 402, 200}
