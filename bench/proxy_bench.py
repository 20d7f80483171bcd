"""Proxy benchmark: the gateway as users run it, next to a pass-through floor, in one run.

    python bench/proxy_bench.py                    # both modes, ~6 minutes
    python bench/proxy_bench.py --quick            # shorter runs, 20k calls for RSS; noisier
    python bench/proxy_bench.py --modes embedded   # or production; --shortcut adds the memory sink

Everything runs on loopback ports 18301-18305 against one upstream, the project's fake provider
(`manage.py fake_provider --no-record`, one process), and every target has 2 workers:

- direct: wrk straight at the fake provider (what the "added" figures subtract);
- floor: `bench/floor_app.py`, a raw ASGI + aiohttp pass-through with a key check, under the
  same gunicorn + uvicorn workers;
- embedded: the embedded default as `make serve` runs it (gunicorn config
  `gateway_site/gunicorn.conf.py`, SQLite file, no Redis, recording on with the default sink,
  GATEWAY_PROXY_GATES as configured by default, DEBUG off);
- production: the same gateway on PostgreSQL (a database of its own, created and migrated:
  --pg-database) and Redis (--redis-url, its database flushed first), with a Celery worker and
  beat draining the records into PostgreSQL while the load runs;
- shortcut (only with --shortcut): the embedded gateway with GATEWAY_RECORD_SINK set to the
  in-memory sink. Not what a user runs: it shows what recording costs, never a headline.

Load: wrk (`apt-get install -y wrk`), closed loop, non-streaming chat completions; per
concurrency, --rounds rounds (3; 3 s each, 1 s with --quick) of every target back to back, so
they see the same machine; each figure is the median over the rounds, and a ratio to the floor
or an added latency is the median of those taken within each round. After each
gateway round the bench waits until every call is stored as a run (the figures include the
ingestion's CPU: a backlog left for later would flatter them) and prints how long that took.
Streams: 200 held streams opened at once on fresh connections (the upstream holds each 2 s
after its first event); first byte = time from sending to the first body byte. RSS: the
serving workers (and the embedded record writer) before and after 100k calls at c64.
CPU per call, over the c64 round and the wait for its runs (from /proc): "CPU µs/call" is the
serving workers'; "+ storing" what stores the runs: the embedded record writer, or the Celery
worker (PostgreSQL's and Redis's own processes are not counted).
The machine's load average is printed: on a shared machine, compare within one run only, and
read the CPU per call beside the rates (it moves less with the machine's other load).

Last figures (full runs, 3 rounds; the shared 2-core machine at load 5-9 from other work):
before the per-call changes (docs/architecture.md, "Speed"), embedded 0.53x the floor at c64,
production 0.40x; workers' CPU 448 / 531 µs per call against the floor's 209, storing 175 /
102; c1 added p50 +0.42 / +0.50 ms. After them: embedded 0.82x, production 0.78x; workers
395 / 397 µs against 237, storing 171 / 71; c1 added p50 +0.48 / +0.48 ms (the floor's own
+0.33 in that run); streams +55 / +115 ms; RSS +2.6 % / +0.1 % over 100k calls. Again at
load 2-3.5 on the merged tree: 0.53x / 0.53x, workers 318 / 325 µs against the floor's 167,
storing 132 / 55, c1 added p50 +0.53 / +0.57 (floor +0.35), streams +31 / +46 ms, RSS
+9.3 % (embedded: not yet told whether a worker or the writer grew) / 0.0 %. On the quiet
machine (load 0.9 before the run), after the record writer stopped keeping Django's query
log: embedded 0.60x, production 0.59x at c64; workers 337 / 374 µs against the floor's 192,
storing 141 / 68; c1 added p50 +0.40 / +0.42 ms (floor +0.30), p99 +3.3 / +3.2 (floor +1.8);
streams +25 / +13 ms; RSS +3.3 % / +1.0 %. Stored runs exceed wrk's count of answered calls
by the requests in flight when each wrk run stops (64 a run), which the server answers and
records and wrk does not count. With the provider calls on the gateway's own upstream client
(proxy/http_client.py), run ids in time order (UUID version 7) and the per-call trims of
docs/architecture.md, "Speed", three full runs on the quiet machine (load 0.3-0.8 before),
embedded / production: c64 0.74x / 0.93x, 0.72x / 0.83x, 0.71x / 0.79x the floor; workers
278 / 237, 307 / 274, 247 / 225 µs per call against the floor's 253, 249, 218; storing
162 / 59, 134 / 71, 110 / 58; c1 added p50 +0.367 / +0.343 (floor +0.332), +1.18 / +1.14
(floor +2.33: that run's c1 phase was disturbed), +0.471 / +0.542 (floor +0.514); c1 added
p99 +3.07 / +1.25 (floor +1.14), +11.2 / +2.93 (floor +4.26), +4.11 / +1.85 (floor +1.66);
streams -0.7 / +17, +15 / +3.9, -1.5 / +18 ms; RSS +0.9 / 0.0 %, +1.1 / 0.0 %, +0.9 / 0.0 %.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from devtools.served import SEED  # noqa: E402 - the project's root first

PY = sys.executable
BIN = Path(PY).parent
FAKE_PORT, FLOOR_PORT, EMBEDDED_PORT, PRODUCTION_PORT, SHORTCUT_PORT = range(18301, 18306)
BODY = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]})
STREAM_BODY = json.dumps(
    {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "hello"}]}
)
CHAT = "/openai/v1/chat/completions"
COUNT_RUNS = (
    "import django; django.setup(); from tracing.models import Run; print(Run.objects.count())"
)
# Production-mode settings a real deployment sets (DEBUG off needs non-development secrets).
BENCH_SECRETS = {
    "DEBUG": "False",
    "SECRET_KEY": "bench-secret-key-not-for-production-0123456789",
    "GATEWAY_SECRETS_KEYS": "YmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtMDE=",
    "GATEWAY_KEY_PEPPERS": "1:bench-pepper",
    "LOG_LEVEL": "WARNING",
}


@dataclass
class Target:
    name: str
    port: int
    path: str = CHAT
    env: dict[str, str] | None = None  # a gateway: runs are counted in its database
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    calls: int = 0  # 200 answers so far (what must become runs)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"


def _wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {port}")


@contextlib.contextmanager
def _started(
    cmd: list[str], env: dict[str, str], port: int | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    try:
        if port is not None:
            _wait_port(port)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _gunicorn(app: str, port: int, *, config: bool) -> list[str]:
    cmd = [str(BIN / "gunicorn"), app, "--bind", f"127.0.0.1:{port}", "--log-level", "warning"]
    if config:  # the gateway: exactly the serving configuration of `make serve`
        return [*cmd, "--config", "python:gateway_site.gunicorn_conf", "--workers", "2"]
    return [
        *cmd,
        "--worker-class",
        "uvicorn.workers.UvicornWorker",
        "--workers",
        "2",
        "--keep-alive",
        "75",
    ]


def _wrk(target: Target, key: str, conns: int, seconds: int) -> dict[str, float]:
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(BODY)}\n"
        'wrk.headers["content-type"] = "application/json"\n'
        f'wrk.headers["authorization"] = "Bearer {key}"\n'
    )
    try:
        out = subprocess.run(
            [
                *("wrk", f"-t{min(conns, 2)}", f"-c{conns}", f"-d{seconds}s", "--latency"),
                *("-s", str(script), target.url),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        script.unlink()
    result = _parse_wrk(out)
    target.calls += int(result["requests"] - result["errors"])
    return result


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


async def _held_streams(target: Target, key: str, count: int, hold_ms: int) -> list[float]:
    """Open `count` streams at once, each on its own new connection; return each one's time to
    the first body byte in ms (inf for a stream that failed or did not finish)."""
    headers = {
        "authorization": f"Bearer {key}",
        "content-type": "application/json",
        "x-fake-stream-pause-ms": str(hold_ms),
    }
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, force_close=True), timeout=timeout
    ) as session:

        async def one() -> float:
            started = time.perf_counter()
            try:
                async with session.post(target.url, data=STREAM_BODY, headers=headers) as resp:
                    await resp.content.readany()
                    first = (time.perf_counter() - started) * 1000
                    body = await resp.read()
                    ok = resp.status == 200 and b"[DONE]" in body
            except (TimeoutError, aiohttp.ClientError):
                return float("inf")
            if ok:
                target.calls += 1
            return first if ok else float("inf")

        return list(await asyncio.gather(*(one() for _ in range(count))))


def _tree(pid: int) -> list[int]:
    """pid and all its descendants."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _rss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, AttributeError):
            status = Path(f"/proc/{pid}/status").read_text()
            total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    return total


def _cpu_s(pids: list[int]) -> float:
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _serving_pids(target: Target) -> list[int]:
    """The processes that serve and record (not the master, the Celery worker or PostgreSQL)."""
    return [p for proc in target.procs[:1] for p in _tree(proc.pid) if p != proc.pid]


def _worker_pids(target: Target) -> list[int]:
    """The serving workers alone (the master's children, not the record writer they start)."""
    master = target.procs[0].pid if target.procs else None
    found = []
    for pid in _serving_pids(target):
        with contextlib.suppress(OSError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == master:
                found.append(pid)
    return found


def _ingest_pids(target: Target) -> list[int]:
    """What stores the runs: the embedded record writer, or the Celery worker's processes
    (PostgreSQL's own backends are not counted)."""
    if len(target.procs) > 1:  # production: the Celery worker (its master and its pool)
        return _tree(target.procs[1].pid)
    workers = set(_worker_pids(target))
    return [p for p in _serving_pids(target) if p not in workers]


def _runs_stored(target: Target) -> int:
    out = subprocess.run(
        [PY, "-c", COUNT_RUNS], cwd=ROOT, env=target.env, capture_output=True, text=True
    )
    return int(out.stdout.strip() or -1)


def _settle(target: Target, timeout: float = 120) -> float:
    """Wait until every call answered so far is a stored run; return the seconds it took."""
    if target.env is None:
        return 0.0
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if _runs_stored(target) >= target.calls:
            return time.monotonic() - started
        time.sleep(0.2)
    stored = _runs_stored(target)
    print(f"  ! {target.name}: {stored} runs stored for {target.calls} calls after {timeout} s")
    return float("inf")


def _combined(
    runs: list[dict[str, float]], floor: list[dict[str, float]], direct: list[dict[str, float]]
) -> dict[str, float]:
    """One target's rounds at one concurrency: the median of each figure, and the medians of
    its ratio to the floor and its added latency, each taken against the floor's or the
    upstream's round just before it (the machine's other load drifts less within a round)."""

    def median(values: list[float]) -> float:
        return statistics.median(values)

    return {
        "rps": median([r["rps"] for r in runs]),
        "p50": median([r["p50"] for r in runs]),
        "p99": median([r["p99"] for r in runs]),
        "x_floor": median([r["rps"] / f["rps"] for r, f in zip(runs, floor, strict=True)]),
        "added_p50": median([r["p50"] - d["p50"] for r, d in zip(runs, direct, strict=True)]),
        "added_p99": median([r["p99"] - d["p99"] for r, d in zip(runs, direct, strict=True)]),
    }


def _env(base: dict[str, str], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in base.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(BENCH_SECRETS, DJANGO_SETTINGS_MODULE="gateway_site.settings", **extra)
    return env


def _prepare(env: dict[str, str]) -> str:
    subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    out = subprocess.run(
        [PY, "-c", SEED % f"http://127.0.0.1:{FAKE_PORT}"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


def _recreate_pg(database: str) -> None:
    admin = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c"]
    subprocess.run([*admin, f'DROP DATABASE IF EXISTS "{database}"'], check=True)
    subprocess.run([*admin, f'CREATE DATABASE "{database}"'], check=True)


def _fmt_ms(value: float) -> str:
    return "failed" if value == float("inf") else f"{value:+.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--modes", default="embedded,production")
    parser.add_argument("--shortcut", action="store_true", help="also the memory-sink gateway")
    parser.add_argument("--pg-database", default="gw_h13_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/3")
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of every target per concurrency (medians)"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed for the throughput and latency figures: apt-get install -y wrk")
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    seconds = max(1, round((4 if args.quick else 8) / args.rounds))  # wrk takes whole seconds
    rss_calls = 20_000 if args.quick else 100_000
    load_before = os.getloadavg()
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        base = dict(os.environ)
        sqlite_env = _env(
            base, SQLITE_PATH=str(tmp / "bench.sqlite3"), GATEWAY_SPOOL_DIR=str(tmp / "spool")
        )
        key = _prepare(sqlite_env)
        direct = Target("direct", FAKE_PORT, "/v1/chat/completions")
        floor = Target("floor", FLOOR_PORT)
        targets = [direct, floor]
        fake_cmd = [PY, "manage.py", "fake_provider", "--port", str(FAKE_PORT), "--no-record"]
        stack.enter_context(_started(fake_cmd, sqlite_env, FAKE_PORT))
        floor_env = dict(sqlite_env, FLOOR_UPSTREAM=f"http://127.0.0.1:{FAKE_PORT}", FLOOR_KEY=key)
        floor_env["PYTHONPATH"] = str(ROOT / "bench")
        floor.procs.append(
            stack.enter_context(
                _started(
                    _gunicorn("floor_app:app", FLOOR_PORT, config=False), floor_env, FLOOR_PORT
                )
            )
        )
        if "embedded" in modes:
            embedded = Target("embedded", EMBEDDED_PORT, env=sqlite_env)
            embedded.procs.append(
                stack.enter_context(
                    _started(
                        _gunicorn("gateway_site.asgi:application", EMBEDDED_PORT, config=True),
                        sqlite_env,
                        EMBEDDED_PORT,
                    )
                )
            )
            targets.append(embedded)
        if "production" in modes:
            _recreate_pg(args.pg_database)
            subprocess.run(
                ["redis-cli", "-u", args.redis_url, "flushdb"], check=True, capture_output=True
            )
            pg_env = _env(
                base,
                DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{args.pg_database}",
                REDIS_URL=args.redis_url,
                GATEWAY_SPOOL_DIR=str(tmp / "spool-pg"),
            )
            pg_key = _prepare(pg_env)
            production = Target("production", PRODUCTION_PORT, env=pg_env)
            production.procs.append(
                stack.enter_context(
                    _started(
                        _gunicorn("gateway_site.asgi:application", PRODUCTION_PORT, config=True),
                        pg_env,
                        PRODUCTION_PORT,
                    )
                )
            )
            celery = [str(BIN / "celery"), "-A", "gateway_site"]
            production.procs.append(
                stack.enter_context(
                    _started(
                        [*celery, "worker", "--loglevel", "WARNING", "--concurrency", "2"], pg_env
                    )
                )
            )
            production.procs.append(
                stack.enter_context(
                    _started(
                        [*celery, "beat", "--loglevel", "WARNING", "--schedule", str(tmp / "beat")],
                        pg_env,
                    )
                )
            )
            targets.append(production)
        if args.shortcut:
            shortcut = Target("shortcut", SHORTCUT_PORT)
            shortcut_env = dict(sqlite_env, GATEWAY_RECORD_SINK="proxy.record.memory_sink")
            shortcut.procs.append(
                stack.enter_context(
                    _started(
                        _gunicorn("gateway_site.asgi:application", SHORTCUT_PORT, config=True),
                        shortcut_env,
                        SHORTCUT_PORT,
                    )
                )
            )
            targets.append(shortcut)
        keys = {t.name: (pg_key if t.name == "production" else key) for t in targets}

        for target in targets:  # warm up: auth tables, pools, first runs written
            _wrk(target, keys[target.name], 16, 2)
            _settle(target)
        results: dict[tuple[str, int], dict[str, float]] = {}
        settle: dict[str, float] = {}
        cpu: dict[str, float] = {}
        cpu_ingest: dict[str, float] = {}
        for conns in (1, 16, 64):
            rounds: dict[str, list[dict[str, float]]] = {t.name: [] for t in targets}
            used: dict[str, list[float]] = {t.name: [0.0, 0.0, 0.0] for t in targets}
            for _ in range(args.rounds):
                for target in targets:
                    pids, ingest = _worker_pids(target), _ingest_pids(target)
                    before = _cpu_s(pids), _cpu_s(ingest)
                    rounds[target.name].append(_wrk(target, keys[target.name], conns, seconds))
                    settle[target.name] = max(settle.get(target.name, 0.0), _settle(target))
                    spent = used[target.name]
                    spent[0] += _cpu_s(pids) - before[0]
                    spent[1] += _cpu_s(ingest) - before[1]
                    spent[2] += rounds[target.name][-1]["requests"]
            for name, runs in rounds.items():
                results[(name, conns)] = _combined(runs, rounds["floor"], rounds["direct"])
                if conns == 64:
                    cpu[name] = used[name][0] / used[name][2] * 1e6
                    cpu_ingest[name] = used[name][1] / used[name][2] * 1e6
        streams: dict[str, list[float]] = {}
        for target in targets:
            streams[target.name] = sorted(
                asyncio.run(_held_streams(target, keys[target.name], args.streams, 2000))
            )
            _settle(target)
        rss: dict[str, tuple[float, float, int]] = {}
        for target in targets[1:]:
            pids = _serving_pids(target)
            _wrk(target, keys[target.name], 64, 2)
            before = _rss_kb(pids)
            total = 0
            while total < rss_calls:
                total += int(_wrk(target, keys[target.name], 64, 5)["requests"])
            settle[target.name] = max(settle.get(target.name, 0.0), _settle(target))
            rss[target.name] = (before / 1024, _rss_kb(_serving_pids(target)) / 1024, total)
        stored = {t.name: (_runs_stored(t), t.calls) for t in targets if t.env is not None}
    _report(targets, results, streams, rss, settle, (cpu, cpu_ingest), stored, args, load_before)


def _report(
    targets: list[Target],
    results: dict[tuple[str, int], dict[str, float]],
    streams: dict[str, list[float]],
    rss: dict[str, tuple[float, float, int]],
    settle: dict[str, float],
    cpus: tuple[dict[str, float], dict[str, float]],
    stored: dict[str, tuple[int, int]],
    args: argparse.Namespace,
    load_before: tuple[float, float, float],
) -> None:
    direct_ttfb = statistics.median(streams["direct"])
    labels = {
        "direct": "direct to the upstream (what 'added' subtracts)",
        "floor": "floor: raw ASGI + aiohttp pass-through, key check",
        "embedded": "embedded default (make serve: SQLite, recording on)",
        "production": "production (PostgreSQL + Redis + Celery worker)",
        "shortcut": "SHORTCUT, not a user set-up: embedded, memory sink",
    }
    load = os.getloadavg()
    print(
        f"\nproxy benchmark ({'quick' if args.quick else 'full'}; {os.cpu_count()} cores, "
        f"load average before {load_before[0]:.2f} / after {load[0]:.2f}; 2 workers each)"
    )
    header = (
        f"{'target':52} {'c1 added p50/p99 ms':>20} {'rps c16':>8} {'rps c64':>8} {'x floor':>7}"
        f" {'streams +1st byte p50/max ms':>29} {'CPU µs/call':>11} {'+ storing':>9}"
    )
    cpu, cpu_ingest = cpus
    print(header)
    print("-" * len(header))
    for target in targets:
        name = target.name
        c1 = results[(name, 1)]
        added = "" if name == "direct" else f"{c1['added_p50']:+.3f} / {c1['added_p99']:+.3f}"
        ratio = "" if name == "direct" else f"{results[(name, 64)]['x_floor']:.2f}x"
        ttfb = streams[name]
        stream_cell = (
            f"{direct_ttfb:.1f} / {max(ttfb):.1f} (abs)"
            if name == "direct"
            else f"{_fmt_ms(statistics.median(ttfb) - direct_ttfb)} / {_fmt_ms(max(ttfb) - max(streams['direct']))}"
        )
        print(
            f"{labels[name]:52} {added:>20} {results[(name, 16)]['rps']:>8.0f}"
            f" {results[(name, 64)]['rps']:>8.0f} {ratio:>7} {stream_cell:>29}"
            f" {cpu.get(name, 0):>11.0f} {cpu_ingest.get(name, 0):>9.0f}"
        )
    print("\nRSS of the serving processes (workers, and the embedded record writer):")
    for name, (before, after, total) in rss.items():
        print(
            f"  {name:12} {before:7.1f} MB → {after:7.1f} MB over {total:,} calls ({(after - before) / before * 100:+.1f} %)"
        )
    print("\nRecording (every call answered must be a stored run):")
    for name, (runs, calls) in stored.items():
        print(
            f"  {name:12} {runs:,} runs stored for {calls:,} calls answered; longest wait for the last run after a round {settle[name]:.1f} s"
        )
    print("\nTargets (ratios within this run):")
    checks: list[tuple[str, Callable[[], bool], str]] = []
    for name, need in (("embedded", 0.6), ("production", 0.8)):
        if (name, 64) not in results:
            continue
        ratio = results[(name, 64)]["x_floor"]
        c1 = results[(name, 1)]
        p50 = c1["added_p50"]
        p99 = c1["added_p99"]
        added = statistics.median(streams[name]) - direct_ttfb
        checks += [
            (f"{name}: rps c64 ≥ {need}x floor", lambda r=ratio, n=need: r >= n, f"{ratio:.2f}x"),
            (f"{name}: added p50 c1 ≤ 0.3 ms", lambda v=p50: v <= 0.3, f"{p50:+.3f} ms"),
            (f"{name}: added p99 c1 ≤ 1.5 ms", lambda v=p99: v <= 1.5, f"{p99:+.3f} ms"),
            (
                f"{name}: 200 streams added first byte ≤ 60 ms",
                lambda v=added: v <= 60,
                f"{added:+.1f} ms",
            ),
        ]
        if name in rss:
            before, after, _ = rss[name]
            growth = (after - before) / before * 100
            checks.append(
                (f"{name}: RSS flat (≤ +5 %)", lambda g=growth: g <= 5, f"{growth:+.1f} %")
            )
    for label, ok, value in checks:
        print(f"  {'met ' if ok() else 'MISS'} {label:48} {value}")


if __name__ == "__main__":
    main()
