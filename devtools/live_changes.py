"""Do changes reach every gateway process while it serves? The live-changes check.

For one mode (SQLite with 2 workers, PostgreSQL without Redis, PostgreSQL + Redis) this starts a
real installation on loopback: a fresh database, the fake provider, and gunicorn with 2 uvicorn
workers. Then, per change, 8 clients call the gateway back to back while a separate process
makes the change through its management command (devtools/live_changes_driver.py, one
long-lived admin process, as an operator's shell):

    redaction  switched on (`gateway_redaction ORG/WS --pii on --secrets on --restore off`)
    spend      a $0.000001 daily workspace cap (`gateway_spend_limit`)
    revoke     the clients' key revoked (`gateway_revoke_key`)
    disable    the gateway disabled for the organization (`gateway_org --disable-gateway`)
    role       the key's custom role loses gateway:invoke (`gateway_role --permissions`)
    secret     the OpenAI provider secret replaced (`gateway_secret`)

Each call is classified from what the client saw as served under the old or the new
configuration: the fake provider echoes the prompt (an e-mail address, redacted or not) and
answers with a fingerprint of the provider key it received. The result per change: whether the
command succeeded at the first try, and the worst lag: how long after the commit a call that
was still served under the old configuration had started (negative: none after the commit).
The promise checked: no call that starts more than 100 ms after the commit is served under the
old configuration.

Used by tests/live/test_live_changes.py and `python bench/live_changes.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EMAIL = "alice.liddell@example.com"
BOUND_SECONDS = 0.1


@dataclass
class Mode:
    name: str  # sqlite | postgres | postgres+redis
    database_url: str = ""  # empty: SQLite
    redis_url: str = ""
    # The admin as if on another host: it does not share the gateway's same-host signal file,
    # so only PostgreSQL NOTIFY or Redis pub/sub carry its changes.
    admin_elsewhere: bool = False


@dataclass
class Call:
    started: float
    verdict: str  # old | new | other
    detail: str = ""
    status: int = 0  # 0: no answer


@dataclass
class ChangeResult:
    change: str
    command_ok: bool
    command_error: str
    committed_at: float
    calls: list[Call] = field(default_factory=list)
    runs_stored: int = -1  # -1: not counted

    @property
    def runs_expected(self) -> int:
        """Every answered call makes one run, except a 401 (no workspace to record it in)."""
        return sum(1 for c in self.calls if c.status and c.status != 401)

    @property
    def old_after_commit(self) -> list[Call]:
        return [c for c in self.calls if c.verdict == "old" and c.started > self.committed_at]

    @property
    def worst_lag_ms(self) -> float | None:
        """Start of the latest call served under the old configuration, in ms after the
        commit (negative: every such call started before the commit); None: no old call."""
        old = [c.started for c in self.calls if c.verdict == "old"]
        return (max(old) - self.committed_at) * 1000 if old else None

    @property
    def late(self) -> list[Call]:
        """Calls served under the old configuration although they started more than the bound
        after the commit: each one breaks the promise."""
        bound = self.committed_at + BOUND_SECONDS
        return [c for c in self.calls if c.verdict == "old" and c.started > bound]

    @property
    def other(self) -> list[Call]:
        return [c for c in self.calls if c.verdict == "other"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fingerprint(secret: str) -> str:
    """What the fake provider answers as `system_fingerprint` for an upstream key."""
    return "fp_" + hashlib.sha256(secret.encode()).hexdigest()[:12]


def classify(change: str, phase: dict[str, Any], status: int, body: bytes) -> tuple[str, str]:
    """(old | new | other, detail) for one answer during the change `change`."""
    expected_new = {"spend": 402, "revoke": 401, "disable": 403, "role": 403}
    if status == 200:
        try:
            answer = json.loads(body)
            text = answer["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            return "other", f"200 with an unreadable body {body[:120]!r}"
        if change == "redaction":
            if EMAIL in text:
                return "old", ""
            return ("new", "") if "[REDACTED:" in text else ("other", text[:120])
        if change == "secret":
            seen = answer.get("system_fingerprint")
            if seen == fingerprint(phase["old_secret"]):
                return "old", ""
            if seen == fingerprint(phase["new_secret"]):
                return "new", ""
            return "other", f"fingerprint {seen}"
        return "old", ""
    if expected_new.get(change) == status:
        return "new", ""
    return "other", f"{status} {body[:200]!r}"


async def _clients(
    url: str, change: str, phase: dict[str, Any], clients: int, stop_at: list[float]
) -> list[Call]:
    import aiohttp

    calls: list[Call] = []
    headers = {"authorization": f"Bearer {phase['key']}", "content-type": "application/json"}
    timeout = aiohttp.ClientTimeout(total=10)

    async def client(n: int) -> None:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            i = 0
            while time.time() < stop_at[0]:
                i += 1
                body = {
                    "model": "gpt-4o-mini",
                    "max_tokens": 16,
                    "messages": [{"role": "user", "content": f"call {n}-{i} from {EMAIL}"}],
                }
                started = time.time()
                try:
                    async with session.post(url, json=body, headers=headers) as resp:
                        raw = await resp.read()
                        status = resp.status
                        verdict, detail = classify(change, phase, status, raw)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    status, verdict, detail = 0, "other", f"{type(exc).__name__}: {exc}"
                calls.append(Call(started, verdict, detail, status))

    await asyncio.gather(*(client(n) for n in range(clients)))
    return calls


class Installation:
    """A database, the fake provider and a 2-worker gunicorn gateway, for one mode."""

    def __init__(self, mode: Mode, workdir: Path, workers: int = 2) -> None:
        self.mode = mode
        self.workdir = workdir
        self.workers = workers
        self.port = free_port()
        self.fake_port = free_port()
        self.procs: list[subprocess.Popen[bytes]] = []
        self.database = ""
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "gateway_site.settings",
            "DEBUG": "True",
            "LOG_LEVEL": "WARNING",
            "DATABASE_URL": "",
            "REDIS_URL": _own_redis_db(mode.redis_url),
            "SQLITE_PATH": str(workdir / "gateway.sqlite3"),
            "GATEWAY_CHANGES_FILE": str(workdir / "changes"),
            "GATEWAY_SPOOL_DIR": str(workdir / "spool"),
            "PYTHONPATH": str(ROOT),
        }
        if mode.database_url:
            self.database = f"gw_live_{uuid.uuid4().hex[:8]}"
            base = mode.database_url.rsplit("/", 1)[0]
            env["DATABASE_URL"] = f"{base}/{self.database}"
        self.env = env

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def manage(self, *args: str, stdin: str | None = None, timeout: float = 300) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} failed: {done.stderr.strip()[-2000:]}")
        return done.stdout

    def driver(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "devtools.live_changes_driver", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def admin_shell(self) -> subprocess.Popen[str]:
        """A separate process that makes changes on request (live_changes_driver serve)."""
        env = dict(self.env)
        if self.mode.admin_elsewhere:
            env["GATEWAY_CHANGES_FILE"] = str(self.workdir / "changes-of-another-host")
        proc = subprocess.Popen(
            [sys.executable, "-m", "devtools.live_changes_driver", "serve"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.procs.append(proc)  # type: ignore[arg-type]
        assert proc.stdout is not None
        if "ready" not in proc.stdout.readline():
            raise RuntimeError("the admin process did not start")
        return proc

    def start(self) -> None:
        if self.env["REDIS_URL"]:
            import redis

            redis.Redis.from_url(self.env["REDIS_URL"]).flushdb()
        if self.database:
            _create_database(self.mode.database_url, self.database)
        self.manage("migrate", "--noinput")
        log = (self.workdir / "gateway.log").open("ab")
        self.procs.append(
            subprocess.Popen(
                [sys.executable, "manage.py", "fake_provider", "--port", str(self.fake_port)],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=log,
            )
        )
        self.procs.append(
            subprocess.Popen(
                [  # as `make serve` runs it
                    str(Path(sys.executable).parent / "gunicorn"),
                    "gateway_site.asgi:application",
                    "-c",
                    "python:gateway_site.gunicorn_conf",
                    "--workers",
                    str(self.workers),
                    "--bind",
                    f"127.0.0.1:{self.port}",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=log,
            )
        )
        _wait_http(f"{self.url}/health", 60)
        _wait_http(f"http://127.0.0.1:{self.fake_port}/__fake/requests", 30)

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if self.database:
            _drop_database(self.mode.database_url, self.database)


def _own_redis_db(url: str) -> str:
    """The check's own Redis database (15), flushed at start: counters and streams keyed by the
    ids of a fresh database must not meet those of an earlier run."""
    if not url:
        return ""
    base, _, last = url.rstrip("/").rpartition("/")
    return f"{base}/15" if last.isdigit() else f"{url.rstrip('/')}/15"


def _wait_http(url: str, timeout: float) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def _admin_connection(database_url: str) -> Any:
    import psycopg

    return psycopg.connect(database_url.rsplit("/", 1)[0] + "/postgres", autocommit=True)


def _create_database(database_url: str, name: str) -> None:
    with _admin_connection(database_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')


def _drop_database(database_url: str, name: str) -> None:
    with contextlib.suppress(Exception), _admin_connection(database_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def installation(mode: Mode) -> Iterator[Installation]:
    with tempfile.TemporaryDirectory(prefix="gw-live-") as tmp:
        inst = Installation(mode, Path(tmp))
        try:
            inst.start()
            yield inst
        finally:
            inst.stop()


def run_changes(
    inst: Installation, *, clients: int = 8, before: float = 0.6, after: float = 1.0
) -> list[ChangeResult]:
    """Every change of PHASES, each with its own organization, with the clients calling
    throughout: `before` seconds before the command starts, `after` seconds after it returned."""
    setup = inst.driver("setup", f"http://127.0.0.1:{inst.fake_port}")
    if setup.returncode != 0:
        raise RuntimeError(f"set-up failed: {setup.stderr[-2000:]}")
    phases = json.loads(setup.stdout.strip().splitlines()[-1])
    url = f"{inst.url}/openai/v1/chat/completions"
    admin = inst.admin_shell()
    results = []
    for phase in phases:
        results.append(asyncio.run(_one_change(admin, url, phase, clients, before, after)))
    _count_runs(admin, phases, results)
    return results


def _count_runs(
    admin: subprocess.Popen[str], phases: list[dict[str, Any]], results: list[ChangeResult]
) -> None:
    """Runs stored per change, once the recorders had time to write them (bounded wait)."""
    slugs = [p["org"] for p in phases]
    deadline = time.monotonic() + 20
    while True:
        stored = _ask(admin, "count", slugs)  # type: ignore[arg-type]
        for phase, result in zip(phases, results, strict=True):
            result.runs_stored = int(stored.get(phase["org"], -1))
        if all(r.runs_stored >= r.runs_expected for r in results) or time.monotonic() > deadline:
            return
        time.sleep(0.5)


def _ask(admin: subprocess.Popen[str], name: str, phase: Any) -> dict[str, Any]:
    assert admin.stdin is not None and admin.stdout is not None
    admin.stdin.write(f"{name} {json.dumps(phase)}\n")
    admin.stdin.flush()
    line = admin.stdout.readline()
    return json.loads(line) if line else {"error": "the admin process exited"}


async def _one_change(
    admin: subprocess.Popen[str],
    url: str,
    phase: dict[str, Any],
    clients: int,
    before: float,
    after: float,
) -> ChangeResult:
    stop_at = [time.time() + 120]  # moved once the command returned
    load = asyncio.ensure_future(_clients(url, phase["name"], phase, clients, stop_at))
    await asyncio.sleep(before)
    answer = await asyncio.to_thread(_ask, admin, phase["name"], phase)
    committed_at = answer.get("committed_at", time.time())
    stop_at[0] = time.time() + after
    calls = await load
    error = answer.get("error", "")
    return ChangeResult(phase["name"], not error, error, committed_at, calls)


def report(mode: Mode, results: list[ChangeResult]) -> str:
    where = ", the admin on another host" if mode.admin_elsewhere else ""
    lines = [f"mode {mode.name}{where}: 2 gateway workers, 8 clients back to back"]
    lines.append(
        "change      command  calls  old-after-commit  late(>100ms)  other  runs/expected"
        "  worst lag (ms)"
    )
    for r in results:
        lag = "no old call" if r.worst_lag_ms is None else f"{r.worst_lag_ms:8.1f}"
        lines.append(
            f"{r.change:10s}  {'ok' if r.command_ok else 'FAILED':7s}  {len(r.calls):5d}  "
            f"{len(r.old_after_commit):16d}  {len(r.late):12d}  {len(r.other):5d}  "
            f"{r.runs_stored:6d}/{r.runs_expected:<6d}  {lag}"
            + (f"  ({r.command_error})" if r.command_error else "")
        )
    return "\n".join(lines)
