"""Proxy benchmark: direct-to-fake-upstream against through-the-gateway, in one go.

    python bench/proxy_bench.py            # ~3 minutes
    python bench/proxy_bench.py --quick    # ~1 minute, noisier

Starts, on loopback ports 18201-18203: the fake provider (`manage.py fake_provider --no-record`,
one process), a gateway as served in production (gunicorn, 2 uvicorn workers with uvloop and
httptools, SQLite file database with one seeded organization, workspace and key; auth and usage
recording on, records going to the in-memory sink unless `--sink` names another, no policy
gates) and a one-worker gateway for the open-streams
count. Load comes from wrk (`apt-get install -y wrk`) for throughput and latency, and from an
aiohttp client for streams. Everything shares the machine's cores, so figures are noisy:
compare the gateway with the direct run taken minutes apart on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
FAKE_PORT, GW_PORT, GW1_PORT = 18201, 18202, 18203
BODY = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]})
STREAM_BODY = json.dumps(
    {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "hello"}]}
)
SEED = """
import django, os
django.setup()
from orgs import services
from orgs.models import Role
from secrets_vault.services import secret_set
org = services.organization_upsert(slug="bench", llm_gateway_enabled=True)
ws = services.workspace_upsert(organization=org, slug="main")
key = services.api_key_create(organization=org, workspace=ws,
    role=Role.objects.get(builtin=True, name="WORKSPACE_ADMIN"), name="bench")
secret_set(workspace=ws, name="OPENAI_API_KEY", value="sk-bench-0000",
    base_url="http://127.0.0.1:%d")
print(key.plaintext)
"""


def _env(db: Path, sink: str = "proxy.record.memory_sink") -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="gateway_site.settings",
        SQLITE_PATH=str(db),
        GATEWAY_PROXY_GATES="",
        GATEWAY_RECORD_SINK=sink,
        LOG_LEVEL="WARNING",
    )
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    return env


def _wait_port(port: int, timeout: float = 30) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {port}")


@contextlib.contextmanager
def _process(cmd: list[str], env: dict[str, str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        _wait_port(port)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _gunicorn(workers: int, port: int) -> list[str]:
    return [
        str(Path(PY).parent / "gunicorn"),
        "gateway_site.asgi:application",
        "--worker-class",
        "uvicorn.workers.UvicornWorker",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--graceful-timeout",
        "5",
        "--keep-alive",
        "75",
        "--log-level",
        "warning",
    ]


def _wrk(url: str, key: str, conns: int, seconds: float, body: str = BODY) -> dict[str, float]:
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"
        'wrk.headers["content-type"] = "application/json"\n'
        f'wrk.headers["authorization"] = "Bearer {key}"\n'
    )
    try:
        out = subprocess.run(
            [
                "wrk",
                f"-t{min(conns, 2)}",
                f"-c{conns}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                str(script),
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        script.unlink()
    return _parse_wrk(out)


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def _parse_wrk(out: str) -> dict[str, float]:
    pct = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "requests": float(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "p50": _ms(pct["50"]),
        "p99": _ms(pct["99"]),
        "errors": errors + (int(non2xx.group(1)) if non2xx else 0),
    }


async def _ttfb(url: str, key: str, count: int) -> list[float]:
    """Time to the first body byte of `count` sequential streams, in ms."""
    times = []
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    async with aiohttp.ClientSession() as session:
        for _ in range(count):
            started = time.perf_counter()
            async with session.post(url, data=STREAM_BODY, headers=headers) as resp:
                await resp.content.readany()
                times.append((time.perf_counter() - started) * 1000)
                await resp.read()
    return times


async def _open_streams(url: str, key: str, count: int, hold_ms: int) -> tuple[int, int]:
    """`count` streams held open together for hold_ms; returns (completed, failed)."""
    headers = {
        "authorization": f"Bearer {key}",
        "content-type": "application/json",
        "x-fake-stream-pause-ms": str(hold_ms),
    }
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one() -> bool:
            try:
                async with session.post(url, data=STREAM_BODY, headers=headers) as resp:
                    body = await resp.read()
                    return resp.status == 200 and b"[DONE]" in body
            except (TimeoutError, aiohttp.ClientError):
                return False

        results = await asyncio.gather(*(one() for _ in range(count)))
    return sum(results), count - sum(results)


def _children_rss_kb(pid: int) -> int:
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                status = (stat.parent / "status").read_text()
                total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    return total


def _children_cpu_s(pid: int) -> float:
    """utime + stime of `pid`'s children (the gunicorn workers), in seconds: a per-request CPU
    figure that other load on the machine disturbs far less than requests/s."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _setup(tmp: Path, sink: str = "proxy.record.memory_sink") -> tuple[dict[str, str], str]:
    env = _env(tmp / "bench.sqlite3", sink)
    subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    key = (
        subprocess.run(
            [PY, "-c", SEED % FAKE_PORT],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    return env, key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument(
        "--sink",
        default="proxy.record.memory_sink",
        help="GATEWAY_RECORD_SINK for the gateway (default: the in-memory sink)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed for the throughput and latency figures: apt-get install -y wrk")
    seconds = 3 if args.quick else 8
    direct = f"http://127.0.0.1:{FAKE_PORT}/v1/chat/completions"
    gateway = f"http://127.0.0.1:{GW_PORT}/openai/v1/chat/completions"
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmpdir:
        env, key = _setup(Path(tmpdir), args.sink)
        fake_cmd = [PY, "manage.py", "fake_provider", "--port", str(FAKE_PORT), "--no-record"]
        with (
            _process(fake_cmd, env, FAKE_PORT),
            _process(_gunicorn(2, GW_PORT), env, GW_PORT) as gw,
        ):
            _wrk(gateway, key, 16, 2)  # warm up: auth table, pools
            _wrk(direct, key, 16, 1)
            results = {}
            for conns in (1, 16, 64):
                results[("direct", conns)] = _wrk(direct, key, conns, seconds)
                cpu = _children_cpu_s(gw.pid)
                results[("gateway", conns)] = _wrk(gateway, key, conns, seconds)
                cpu = _children_cpu_s(gw.pid) - cpu
            rows.append(
                (
                    "gateway workers' CPU per request c64 (us)",
                    f"{cpu / results[('gateway', 64)]['requests'] * 1e6:.0f}   (user + system time)",
                )
            )
            for conns in (1, 16, 64):
                d, g = results[("direct", conns)], results[("gateway", conns)]
                rows.append(
                    (
                        f"added latency c{conns} p50 / p99 (ms)",
                        f"{g['p50'] - d['p50']:.3f} / {g['p99'] - d['p99']:.3f}"
                        f"   (gateway {g['p50']:.3f} / {g['p99']:.3f}, direct {d['p50']:.3f} / {d['p99']:.3f})",
                    )
                )
            for conns in (1, 16, 64):
                d, g = results[("direct", conns)], results[("gateway", conns)]
                rows.append(
                    (
                        f"requests/s c{conns} gateway / direct",
                        f"{g['rps']:.0f} / {d['rps']:.0f}  (ratio {g['rps'] / d['rps']:.2f}, errors {g['errors']:.0f})",
                    )
                )
            count = 50 if args.quick else 200
            direct_t = asyncio.run(_ttfb(direct, key, count))
            gw_t = asyncio.run(_ttfb(gateway, key, count))
            rows.append(
                (
                    "stream first byte p50 gateway - direct (ms)",
                    f"{statistics.median(gw_t) - statistics.median(direct_t):.3f}"
                    f"   (gateway {statistics.median(gw_t):.3f}, direct {statistics.median(direct_t):.3f})",
                )
            )
            before = _children_rss_kb(gw.pid)
            total = 0.0
            target = 20_000 if args.quick else 100_000
            while total < target:
                total += _wrk(gateway, key, 64, 5)["requests"]
            after = _children_rss_kb(gw.pid)
            rows.append(
                (
                    f"RSS of 2 workers before / after {total:,.0f} requests",
                    f"{before / 1024:.1f} MB / {after / 1024:.1f} MB  ({(after - before) / before * 100:+.1f} %)",
                )
            )
        with _process(fake_cmd, env, FAKE_PORT), _process(_gunicorn(1, GW1_PORT), env, GW1_PORT):
            url = f"http://127.0.0.1:{GW1_PORT}/openai/v1/chat/completions"
            asyncio.run(_ttfb(url, key, 5))
            ok, failed = asyncio.run(_open_streams(url, key, args.streams, 5000))
            rows.append(
                (
                    f"concurrent open streams, 1 worker ({args.streams} held 5 s)",
                    f"{ok} completed, {failed} failed",
                )
            )
    width = max(len(name) for name, _ in rows)
    print(
        f"proxy benchmark ({'quick' if args.quick else 'full'}; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f})"
    )
    for name, value in rows:
        print(f"  {name.ljust(width)}  {value}")


if __name__ == "__main__":
    main()
