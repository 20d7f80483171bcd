"""The gateway as it is served in production, for tests that stop and kill it: a real gunicorn
master with the project's configuration (gateway_site/gunicorn_conf.py) on a loopback port,
beside the fake provider running in a thread of the test process.

    with fake_provider_thread() as fake_url, served_gateway(env, workers=2) as gw:
        ... gw.url, gw.worker_pids(), gw.proc (the master) ...

`embedded_database(directory, fake_url)` prepares what `make serve` uses without any service:
a migrated SQLite file with one organization, workspace, key and OpenAI secret pointing at the
fake provider; `gateway_env(...)` is the environment such a gunicorn runs with.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from devtools.fake_provider import start_fake_provider

SEED = """
import django
django.setup()
from orgs import services
from orgs.models import Role
from secrets_vault.services import secret_set
org = services.organization_upsert(slug="served", llm_gateway_enabled=True)
ws = services.workspace_upsert(organization=org, slug="main")
key = services.api_key_create(organization=org, workspace=ws,
    role=Role.objects.get(builtin=True, name="WORKSPACE_ADMIN"), name="served")
secret_set(workspace=ws, name="OPENAI_API_KEY", value="sk-served-0000", base_url=%r)
print(key.plaintext)
"""


@contextlib.contextmanager
def fake_provider_thread() -> Iterator[str]:
    """The fake provider on a loopback port 0, in a thread; yields its base URL."""
    ready = threading.Event()
    box: dict[str, object] = {}
    loop = asyncio.new_event_loop()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        runner, _, port = loop.run_until_complete(start_fake_provider(record=False))
        box["runner"], box["port"] = runner, port
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the fake provider did not start")
    try:
        yield f"http://127.0.0.1:{box['port']}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def gateway_env(**values: str) -> dict[str, str]:
    """This process's environment without the service URLs, plus `values`."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DJANGO_SETTINGS_MODULE="gateway_site.settings", DEBUG="True", LOG_LEVEL="WARNING")
    env.update(values)
    return env


def embedded_database(directory: Path, fake_url: str) -> tuple[dict[str, str], str]:
    """(environment, gateway key) of a fresh embedded gateway: SQLite file and spool in
    `directory`, migrated and seeded."""
    env = gateway_env(
        SQLITE_PATH=str(directory / "gateway.sqlite3"), GATEWAY_SPOOL_DIR=str(directory / "spool")
    )
    root = settings.BASE_DIR
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=root, env=env, check=True)
    seeded = subprocess.run(
        [sys.executable, "-c", SEED % fake_url],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return env, seeded.stdout.strip().splitlines()[-1]


@dataclass
class ServedGateway:
    url: str
    proc: subprocess.Popen[str]  # the gunicorn master
    log: list[str]  # what gunicorn and the workers wrote to stderr so far

    def worker_pids(self) -> list[int]:
        """The master's live children (the workers), oldest first."""
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.proc.pid and fields[0] != "Z":
                    pids.append(int(stat.parent.name))
        return sorted(pids)

    def busiest_worker(self) -> int:
        """The worker holding the most client connections now (each worker accepts on its
        own, so a handful of keep-alive connections rarely spreads evenly)."""
        port = int(self.url.rsplit(":", 1)[1])
        inodes = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with contextlib.suppress(OSError):
                for line in Path(table).read_text().splitlines()[1:]:
                    fields = line.split()
                    if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                        inodes.add(f"socket:[{fields[9]}]")
        counts = {}
        for pid in self.worker_pids():
            with contextlib.suppress(OSError):
                fds = Path(f"/proc/{pid}/fd").iterdir()
                counts[pid] = sum(1 for fd in fds if _link(fd) in inodes)
        return max(counts, key=lambda pid: counts[pid])


def _link(path: Path) -> str:
    try:
        return str(path.readlink())
    except OSError:
        return ""


def _healthy(url: str) -> bool:
    with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/health", timeout=1) as r:
        return r.status == 200
    return False


@contextlib.contextmanager
def served_gateway(
    env: dict[str, str], *, workers: int = 2, graceful_timeout: float = 5
) -> Iterator[ServedGateway]:
    """gunicorn with the gateway's configuration on 127.0.0.1:<free port>; stopped (SIGTERM,
    then SIGKILL after the graceful timeout) when the block ends, unless already gone."""
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "gateway_site.asgi:application",
            *("-c", "python:gateway_site.gunicorn_conf", "--bind", "127.0.0.1:0"),
            *("--workers", str(workers), "--graceful-timeout", str(graceful_timeout)),
            *("--log-level", "info"),
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    found: dict[str, str] = {}
    log: list[str] = []
    seen = threading.Event()

    def read_log() -> None:  # also keeps the pipe drained for the server's whole life
        for line in proc.stderr or ():
            log.append(line)
            match = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", line)
            if match:
                found["url"] = match.group(1)
                seen.set()

    threading.Thread(target=read_log, daemon=True).start()
    try:
        if not seen.wait(30):
            raise RuntimeError("gunicorn did not start listening")
        gateway = ServedGateway(url=found["url"], proc=proc, log=log)
        deadline = time.monotonic() + 60
        while len(gateway.worker_pids()) < workers or not _healthy(gateway.url):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the gateway's workers did not become healthy")
            time.sleep(0.1)
        yield gateway
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(graceful_timeout + 10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
