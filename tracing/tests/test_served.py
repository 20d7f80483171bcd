"""What a served gateway records when its workers are killed or stopped, counted as a user would:
calls answered 200 against runs stored. Real gunicorn (the project's configuration) on
loopback, the fake provider in a thread; two modes:

- embedded: no Redis, a SQLite file; workers spool, the record writer process stores;
- production: PostgreSQL (the test database) + Redis; workers XADD, the drain stores.

The loss bound checked: a worker killed with SIGKILL loses only records of calls that ended in
its last 100 ms (GATEWAY_RECORD_FLUSH_SECONDS is 50 ms). At SIGTERM, streams shorter than the
graceful timeout finish, longer ones are cut just before it, and every one is stored (the cut
ones as errors).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from django.db import connection

from devtools.served import (
    embedded_database,
    fake_provider_thread,
    gateway_env,
    served_gateway,
)
from proxy.app import SHUT_DOWN

pytestmark = pytest.mark.e2e

CHAT = "/openai/v1/chat/completions"
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "count me"}]}
KILL_WINDOW = 0.1  # seconds of records a killed worker may lose
BACKLOG = """
import django, time, uuid
django.setup()
from hotpath.callrecord import CallRecord
from orgs.models import Workspace
from tracing.spool import spool_write
ws = Workspace.objects.get()
now = time.time()
spool_write([CallRecord(run_id=uuid.uuid4().hex, trace_id="backlog", started_at=now,
                        ended_at=now, organization_id=ws.organization_id, workspace_id=ws.pk,
                        model="gpt-4o-mini") for _ in range(6000)])
"""


@dataclass
class Mode:
    env: dict[str, str]
    key: str
    stored: Callable[[], dict[str, str]]  # trace id -> status of every stored run


@pytest.fixture(scope="module")
def fake_url() -> Iterator[str]:
    with fake_provider_thread() as url:
        yield url


@pytest.fixture(scope="module")
def embedded_template(tmp_path_factory: Any, fake_url: str) -> tuple[dict[str, str], str]:
    return embedded_database(tmp_path_factory.mktemp("embedded"), fake_url)


@pytest.fixture
def embedded(embedded_template: tuple[dict[str, str], str], tmp_path: Path) -> Mode:
    """A copy of the migrated and seeded SQLite file of its own, and a spool of its own."""
    template, key = embedded_template
    env = {
        **template,
        "SQLITE_PATH": str(tmp_path / "gateway.sqlite3"),
        "GATEWAY_SPOOL_DIR": str(tmp_path / "spool"),
    }
    shutil.copyfile(template["SQLITE_PATH"], env["SQLITE_PATH"])

    def stored() -> dict[str, str]:
        with sqlite3.connect(env["SQLITE_PATH"]) as db:
            return dict(db.execute("SELECT trace_id, status FROM tracing_run"))

    return Mode(env=env, key=key, stored=stored)


@pytest.fixture
def production(owner: Any, fake_url: str, settings: Any, tmp_path: Path) -> Iterator[Mode]:
    import redis

    from secrets_vault.services import secret_set
    from tracing.models import Run
    from tracing.shipping import runs_drain

    secret_set(workspace=owner.workspace, name="OPENAI_API_KEY", value="sk-0", base_url=fake_url)
    db = connection.settings_dict
    stream = f"test:runs:{uuid.uuid4().hex}"
    settings.REDIS_URL = os.environ["REDIS_URL"]
    settings.GATEWAY_RECORD_STREAM = stream
    env = gateway_env(
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        REDIS_URL=settings.REDIS_URL,
        GATEWAY_RECORD_STREAM=stream,
        GATEWAY_SPOOL_DIR=str(tmp_path / "spool"),
    )

    def stored() -> dict[str, str]:
        runs_drain(max_seconds=5, claim_idle_ms=0)
        return dict(Run.objects.values_list("trace_id", "status"))

    yield Mode(env=env, key=owner.plaintext_key, stored=stored)
    redis.Redis.from_url(settings.REDIS_URL).delete(stream)


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
def mode(request: Any) -> Mode:
    return request.getfixturevalue(request.param)


def settled(mode: Mode, expected: set[str], timeout: float = 20) -> dict[str, str]:
    """The stored runs once `expected` are all there or the count stops growing (bounded)."""
    deadline = time.monotonic() + timeout
    last: dict[str, str] = {}
    while time.monotonic() < deadline:
        runs = mode.stored()
        if expected <= runs.keys():
            return runs
        if runs and len(runs) == len(last):
            time.sleep(1.0)  # the writer may be between batches: one more look
            runs = mode.stored()
            if len(runs) == len(last):
                return runs
        last = runs
        time.sleep(0.2)
    return mode.stored()


async def burst(
    url: str, key: str, calls: int, kill: Callable[[], None], kill_after: int
) -> tuple[dict[str, float], int, float]:
    """`calls` chat calls, 8 at a time on keep-alive connections; `kill` runs once
    `kill_after` answers came back. Returns (trace id -> when its 200 arrived, calls that
    failed, kill time)."""
    answered: dict[str, float] = {}
    failed = 0
    killed_at = 0.0
    todo = iter(range(calls))
    headers = {"authorization": f"Bearer {key}"}
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def client() -> None:
            nonlocal killed_at, failed
            for _ in todo:
                try:
                    async with session.post(url + CHAT, json=BODY, headers=headers) as resp:
                        await resp.read()
                        if resp.status == 200:
                            meta = json.loads(resp.headers["x-gateway-metadata"])
                            answered[meta["trace_id"]] = time.monotonic()
                except (aiohttp.ClientError, TimeoutError):
                    failed += 1  # a call on the killed worker: not answered, nothing owed
                    continue
                if not killed_at and len(answered) >= kill_after:
                    killed_at = time.monotonic()
                    kill()

        await asyncio.gather(*(client() for _ in range(8)))
    return answered, failed, killed_at


def test_a_killed_worker_loses_at_most_its_last_100_ms_of_records(mode: Mode) -> None:
    with served_gateway(mode.env, workers=2) as gw:
        answered, failed, killed_at = asyncio.run(
            burst(
                gw.url,
                mode.key,
                200,
                lambda: os.kill(gw.busiest_worker(), signal.SIGKILL),
                kill_after=80,
            )
        )
        runs = settled(mode, set(answered))
    lost = {trace: at for trace, at in answered.items() if trace not in runs}
    oldest = max((killed_at - at for at in lost.values()), default=0.0)
    print(  # the measured figures, for the closing note (pytest -s)
        f"\nkill -9 during a 200-call burst: {failed} calls failed, {len(answered)} answered "
        f"200, {len(answered) - len(lost)} stored, {len(lost)} lost (the oldest answered "
        f"{max(oldest, 0.0) * 1000:.0f} ms before the kill)"
    )
    assert killed_at, "the worker was never killed"
    assert failed, "no call was in flight on the killed worker"
    assert len(answered) >= 150  # the surviving worker went on answering
    late = {trace: killed_at - at for trace, at in lost.items() if killed_at - at > KILL_WINDOW}
    assert not late, f"records lost for calls answered long before the kill: {late}"


async def streams(url: str, key: str, pauses_ms: list[int]) -> tuple[list[Any], Any]:
    """Open one stream per pause (the upstream holds it that long after its first event); once
    all have their first byte, yield control back: returns (tasks reading the rest, session)."""
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
    started = asyncio.Event()
    opened = 0

    async def one(pause: int) -> tuple[int, bytes, str]:
        nonlocal opened
        headers = {"authorization": f"Bearer {key}", "x-fake-stream-pause-ms": str(pause)}
        async with session.post(url + CHAT, json={**BODY, "stream": True}, headers=headers) as r:
            trace = json.loads(r.headers["x-gateway-metadata"])["trace_id"]
            body = await r.content.readany()
            opened += 1
            if opened == len(pauses_ms):
                started.set()
            with contextlib.suppress(aiohttp.ClientError):  # cut: the body is what arrived
                async for chunk in r.content.iter_any():
                    body += chunk
            return r.status, body, trace

    tasks = [asyncio.ensure_future(one(p)) for p in pauses_ms]
    await asyncio.wait_for(started.wait(), 20)
    return tasks, session


def test_sigterm_lets_streams_finish_cuts_the_rest_and_stores_every_run(mode: Mode) -> None:
    async def scenario(gw: Any) -> list[tuple[int, bytes, str]]:
        tasks, session = await streams(gw.url, mode.key, [600] * 2 + [30_000] * 10)
        gw.proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.5)
        refused = False
        try:
            async with aiohttp.ClientSession() as fresh, fresh.get(f"{gw.url}/health") as resp:
                await resp.read()
        except aiohttp.ClientError:
            refused = True
        results = await asyncio.gather(*tasks)
        await session.close()
        assert refused, "a new connection was accepted after SIGTERM"
        return results

    with served_gateway(mode.env, workers=2, graceful_timeout=4) as gw:
        started = time.monotonic()
        results = asyncio.run(scenario(gw))
        gw.proc.wait(15)
        stopped = time.monotonic() - started
        log = "".join(gw.log)
    traces = {trace for _, _, trace in results}
    runs = settled(mode, traces)

    finished = [r for r in results if b"[DONE]" in r[1]]
    cut = [r for r in results if b"[DONE]" not in r[1]]
    print(
        f"\nSIGTERM with 12 streams open: stopped in {stopped:.1f} s, "
        f"{len(finished)} finished, {len(cut)} cut, {len(traces & runs.keys())} runs stored"
    )
    assert len(finished) == 2 and len(cut) == 10
    assert traces <= runs.keys(), f"{len(traces - runs.keys())} of 12 have no run; log:\n{log}"
    assert [runs[t] for _, _, t in finished] == ["success", "success"]
    assert {runs[t] for _, _, t in cut} == {"error"}
    assert stopped < 4 + 5  # gunicorn never had to kill a worker that overran


def test_a_cut_stream_says_why_in_its_run_stored_before_the_server_exits(
    embedded: Mode,
) -> None:
    async def scenario(gw: Any) -> str:
        tasks, session = await streams(gw.url, embedded.key, [30_000])
        gw.proc.send_signal(signal.SIGTERM)
        ((_, _, trace),) = await asyncio.gather(*tasks)
        await session.close()
        return trace

    with served_gateway(embedded.env, workers=1, graceful_timeout=6) as gw:
        trace = asyncio.run(scenario(gw))
        gw.proc.wait(10)
    # No waiting here: a server that has exited has stored its runs (its worker waited for the
    # record writer it started).
    with sqlite3.connect(embedded.env["SQLITE_PATH"]) as db:
        (error,) = db.execute(
            "SELECT error FROM tracing_run WHERE trace_id = ?", (trace,)
        ).fetchone()
    assert error == SHUT_DOWN


def test_the_cli_keeps_writing_while_the_writer_stores_a_backlog(embedded: Mode) -> None:
    """No `database is locked` for the admin, the CLI or the API while runs are written: the
    writer's transactions are short and it leaves the lock free between them."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    spooled = subprocess.run(  # as a stopped server leaves them: spooled for this database
        [sys.executable, "-c", BACKLOG],
        cwd=root,
        env=embedded.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert spooled.returncode == 0, spooled.stderr[-2000:]
    manage = [sys.executable, "manage.py"]
    writer = subprocess.Popen(
        [*manage, "gateway_record_writer"], cwd=root, env=embedded.env, stdout=subprocess.PIPE
    )
    try:
        waits = []
        for n in range(4):
            started = time.monotonic()
            done = subprocess.run(
                [*manage, "gateway_workspace", f"served/cli-{n}"],
                cwd=root,
                env=embedded.env,
                capture_output=True,
                text=True,
            )
            waits.append(time.monotonic() - started)
            assert done.returncode == 0, done.stderr
        assert writer.wait(60) == 0
    finally:
        if writer.poll() is None:
            writer.kill()
    with sqlite3.connect(embedded.env["SQLITE_PATH"]) as db:
        (stored,) = db.execute("SELECT count(*) FROM tracing_run").fetchone()
        (made,) = db.execute(
            "SELECT count(*) FROM orgs_workspace WHERE slug LIKE 'cli-%'"
        ).fetchone()
    print(f"\nCLI writes during a 6,000-run backlog: {', '.join(f'{w:.1f} s' for w in waits)}")
    assert (stored, made) == (6000, 4)
