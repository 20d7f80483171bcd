"""The cluster test: several gateway nodes, Celery workers and beat, one PostgreSQL database, and
Redis as one server or as a Redis Cluster of 3 masters, all on loopback.

For each Redis mode this starts NODES gateway nodes (each a gunicorn master with 2 uvicorn
workers on its own port, as `make serve` runs it, each with a change file of its own, so
nodes are separate hosts to each other and only Redis carries changes between them), 2 Celery
workers and beat (draining the record stream), the fake provider, and an operator process
(devtools/cluster_driver.py). Traffic goes to every node, as a load balancer spreads it, and
shows:

    spend      BURST concurrent calls against a cap that admits exactly CAP_CALLS of them:
               admissions exact, charged exactly the cap ($0.00 overshoot);
    change     a key revoked on the operator's process while clients call every node: the
               latest call still served with the old key, per node, after the commit (lag);
    kill       one node killed (SIGKILL, master and workers) mid-traffic: the calls it answered
               are all stored but for those still in its hands (in flight, or answered less than
               the flush interval before the kill);
    redis      Redis killed (SIGKILL; persistence on, as docs/operations.md asks, since the
               stream holds records not yet drained) and started again (every master of the
               cluster) under traffic:
               calls under a spend policy are refused with 503 (fail closed) while it is down,
               and every node serves again once it is back, none restarted;
    stored     every answered call's run stored once (trace ids), nothing lost.

    python -m devtools.cluster [--modes single,cluster] [--long]

The database: CLUSTER_DATABASE_URL (dropped and created again), or a fresh database beside
DATABASE_URL's (dropped at the end). Used by tests/cluster/test_cluster.py (`make cluster-test`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools.redis_servers import RedisCluster, RedisServer, cluster_ports, free_port

ROOT = Path(__file__).resolve().parent.parent
NODES = 3
WORKERS_PER_NODE = 2
CELERY_WORKERS = 2
CAP_CALLS = 50  # the spend cap admits exactly this many calls of $0.001
# A call's record leaves its worker at most GATEWAY_RECORD_FLUSH_SECONDS (0.05 s) after the
# answer, then takes an XADD: on this loaded 2-core machine a killed node can still hold the
# records of calls it answered a little earlier. Those calls were still in its hands.
IN_HANDS_SECONDS = 0.5
BOUND_SECONDS = 0.1  # a change applies to every call starting this long after its commit
BODY = {
    "model": "cluster-exact",
    "max_tokens": 10,
    "messages": [{"role": "user", "content": "x" * 36}],
}


@dataclass
class Scale:
    burst: int = 240  # concurrent calls of the spend phase
    clients: int = 6  # concurrent clients of the other phases
    kill_seconds: float = 2.5
    outage_seconds: float = 1.5


@dataclass
class Call:
    node: int
    started: float
    ended: float
    status: int  # 0: no answer (connection refused or cut)
    trace_id: str = ""


@dataclass
class ModeResult:
    mode: str
    figures: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _metadata_trace(headers: Any) -> str:
    raw = headers.get("x-gateway-metadata")
    if not raw:
        return ""
    try:
        return str(json.loads(raw).get("trace_id", ""))
    except ValueError:
        return ""


class Installation:
    """Every process of one Redis mode; the database is shared by the modes."""

    def __init__(self, workdir: Path, database_url: str, redis_url: str) -> None:
        self.workdir = workdir
        self.database_url = database_url
        self.redis_url = redis_url
        self.fake_port = free_port()
        self.node_ports = [free_port() for _ in range(NODES)]
        self.nodes: list[subprocess.Popen[bytes] | None] = []
        self.others: list[subprocess.Popen[bytes]] = []
        self.driver: subprocess.Popen[str] | None = None
        self.log = (workdir / "processes.log").open("ab")

    def env(self, name: str) -> dict[str, str]:
        """The environment of one process: `name` is its host (its own change file, spool)."""
        home = self.workdir / name
        home.mkdir(exist_ok=True)
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")},
            "DJANGO_SETTINGS_MODULE": "gateway_site.settings",
            "DEBUG": "True",
            "LOG_LEVEL": "WARNING",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "GATEWAY_CHANGES_FILE": str(home / "changes"),
            "GATEWAY_SPOOL_DIR": str(home / "spool"),
            # Entries a worker had read when Redis died are taken over after this (not 60 s):
            # the test waits for every run.
            "GATEWAY_RECORD_CLAIM_IDLE_SECONDS": "3",
            "PYTHONPATH": str(ROOT),
        }

    def _spawn(self, args: list[str], name: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            args,
            cwd=ROOT,
            env=self.env(name),
            stdout=self.log,
            stderr=self.log,
            start_new_session=True,  # its own process group: a node dies with its workers
        )

    def url(self, node: int) -> str:
        return f"http://127.0.0.1:{self.node_ports[node]}"

    def start(self) -> None:
        bin_dir = Path(sys.executable).parent
        self.others.append(
            self._spawn(
                [sys.executable, "manage.py", "fake_provider", "--port", str(self.fake_port)],
                "fake",
            )
        )
        for i, port in enumerate(self.node_ports):
            self.nodes.append(
                self._spawn(
                    [
                        str(bin_dir / "gunicorn"),
                        "gateway_site.asgi:application",
                        *("-c", "python:gateway_site.gunicorn_conf"),
                        *("--workers", str(WORKERS_PER_NODE), "--bind", f"127.0.0.1:{port}"),
                        *("--graceful-timeout", "5"),
                    ],
                    f"node{i}",
                )
            )
        celery = [str(bin_dir / "celery"), "-A", "gateway_site"]
        quiet = ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        for i in range(CELERY_WORKERS):
            self.others.append(
                self._spawn(
                    [
                        *celery,
                        "worker",
                        *("--pool", "solo", "--loglevel", "WARNING", "-n", f"cluster{i}@%h"),
                        *quiet,
                    ],
                    f"worker{i}",
                )
            )
        schedule = self.workdir / "beat" / "schedule"
        self.others.append(
            self._spawn(
                [*celery, "beat", "--loglevel", "WARNING", "--schedule", str(schedule)], "beat"
            )
        )
        self.driver = subprocess.Popen(
            [sys.executable, "-m", "devtools.cluster_driver"],
            cwd=ROOT,
            env=self.env("operator"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        assert self.driver.stdout is not None
        if "ready" not in self.driver.stdout.readline():
            raise RuntimeError("the operator process did not start")
        for i in range(NODES):
            _wait_http(f"{self.url(i)}/health", 120)
        _wait_http(f"http://127.0.0.1:{self.fake_port}/__fake/requests", 30)

    def ask(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        assert self.driver is not None and self.driver.stdin and self.driver.stdout
        self.driver.stdin.write(f"{name} {json.dumps(args)}\n")
        self.driver.stdin.flush()
        line = self.driver.stdout.readline()
        answer = json.loads(line) if line else {"error": "the operator process exited"}
        if "error" in answer:
            raise RuntimeError(f"{name}: {answer['error']}")
        return answer

    def kill_node(self, node: int) -> None:
        proc = self.nodes[node]
        assert proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        self.nodes[node] = None

    def stop(self) -> None:
        procs = [p for p in self.nodes if p is not None] + self.others
        if self.driver is not None:
            procs.append(self.driver)  # type: ignore[arg-type]
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM) if proc is not self.driver else proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        self.log.close()


def _wait_http(url: str, timeout: float) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(urllib.error.URLError, OSError),
            urllib.request.urlopen(url, timeout=2) as resp,
        ):
            if resp.status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


# --- traffic ---------------------------------------------------------------------------------


async def _call(session: Any, inst: Installation, node: int, key: str) -> Call:
    import aiohttp

    started = time.time()
    try:
        async with session.post(
            f"{inst.url(node)}/openai/v1/chat/completions",
            json=BODY,
            headers={"authorization": f"Bearer {key}"},
        ) as resp:
            await resp.read()
            return Call(node, started, time.time(), resp.status, _metadata_trace(resp.headers))
    except (aiohttp.ClientError, TimeoutError):
        return Call(node, started, time.time(), 0)


def _session() -> Any:
    import aiohttp

    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=30)
    )


async def _burst(inst: Installation, keys: list[str], calls: int) -> list[Call]:
    async with _session() as session:
        return await asyncio.gather(
            *(_call(session, inst, i % NODES, keys[i % len(keys)]) for i in range(calls))
        )


async def _steady(
    inst: Installation,
    keys: list[str],
    clients: int,
    until: list[float],
    live: list[bool],
) -> list[Call]:
    """`clients` loops calling back to back, each over every live node in turn (a load
    balancer); a node that refuses a connection is taken out of the rotation."""
    calls: list[Call] = []
    async with _session() as session:

        async def client(n: int) -> None:
            i = n
            while time.time() < until[0]:
                node = i % NODES
                i += 1
                if not live[node]:
                    continue
                call = await _call(session, inst, node, keys[n % len(keys)])
                calls.append(call)
                if call.status == 0 and time.time() < until[0]:
                    await asyncio.sleep(0.01)

        await asyncio.gather(*(client(n) for n in range(clients)))
    return calls


# --- phases ----------------------------------------------------------------------------------


def phase_spend(inst: Installation, world: dict[str, Any], scale: Scale, out: ModeResult) -> None:
    org = world["spend"]
    calls = asyncio.run(_burst(inst, org["keys"], scale.burst))
    statuses = [c.status for c in calls]
    deadline = time.monotonic() + 15  # settlements land after the responses are sent
    counter = inst.ask("charged", {"org": org["org"], "policy": org["policy"]})
    while counter["reserved"] and time.monotonic() < deadline:
        time.sleep(0.1)
        counter = inst.ask("charged", {"org": org["org"], "policy": org["policy"]})
    admitted = statuses.count(200)
    cap = CAP_CALLS * 0.001
    out.figures["spend"] = {
        "calls": len(calls),
        "admitted": admitted,
        "refused_402": statuses.count(402),
        "other": len(calls) - admitted - statuses.count(402),
        "charged_usd": round(counter["spent"], 6),
        "cap_usd": cap,
        "overshoot_usd": round(max(counter["spent"] - cap, 0.0), 6),
        "admitted_per_node": [
            sum(c.status == 200 and c.node == n for c in calls) for n in range(NODES)
        ],
    }
    if admitted != CAP_CALLS:
        out.problems.append(f"spend: {admitted} calls admitted, the cap admits exactly {CAP_CALLS}")
    if round(counter["spent"], 6) != round(cap, 6) or counter["reserved"]:
        out.problems.append(f"spend: charged {counter}, expected exactly ${cap:.6f}")
    world["answered"].setdefault(org["org"], []).extend(c for c in calls if c.status)


def phase_change(inst: Installation, world: dict[str, Any], scale: Scale, out: ModeResult) -> None:
    org = world["change"]
    until = [time.time() + 60]
    live = [True] * NODES

    async def run() -> tuple[list[Call], float]:
        load = asyncio.ensure_future(_steady(inst, org["keys"][:1], scale.clients, until, live))
        await asyncio.sleep(0.5)
        answer = await asyncio.to_thread(
            inst.ask, "change", {"name": "revoke", "key_prefix": org["key_prefixes"][0]}
        )
        until[0] = time.time() + 0.6
        return await load, float(answer["committed_at"])

    calls, committed = asyncio.run(run())
    lags: list[float | None] = []
    late = 0
    for n in range(NODES):
        old = [c.started for c in calls if c.node == n and c.status == 200]
        lags.append(round((max(old) - committed) * 1000, 1) if old else None)
        late += sum(
            1
            for c in calls
            if c.node == n and c.status == 200 and c.started > committed + BOUND_SECONDS
        )
    new = [c for c in calls if c.status == 401]
    out.figures["change"] = {
        "calls": len(calls),
        "served_old_key": sum(c.status == 200 for c in calls),
        "refused_new": len(new),
        "other": sum(c.status not in (200, 401) for c in calls),
        "worst_lag_ms_per_node": lags,
        "late_calls": late,
    }
    if late:
        out.problems.append(f"change: {late} call(s) served more than 100 ms after the commit")
    if not all(any(c.node == n for c in new) for n in range(NODES)):
        out.problems.append("change: some node never applied the revocation")
    # 401s make no run (no workspace to record them in)
    world["answered"].setdefault(org["org"], []).extend(c for c in calls if c.status == 200)


def phase_kill(inst: Installation, world: dict[str, Any], scale: Scale, out: ModeResult) -> None:
    org = world["traffic"]
    victim = NODES - 1
    until = [time.time() + scale.kill_seconds]
    live = [True] * NODES
    killed_at: list[float] = []

    async def run() -> list[Call]:
        load = asyncio.ensure_future(_steady(inst, org["keys"], scale.clients, until, live))
        await asyncio.sleep(scale.kill_seconds / 2.5)
        killed_at.append(time.time())
        world.setdefault("marks", {})["kill"] = killed_at[0]
        await asyncio.to_thread(inst.kill_node, victim)
        live[victim] = False
        return await load

    calls = asyncio.run(run())
    kill = killed_at[0]
    in_hands = [
        c
        for c in calls
        if c.node == victim
        and (c.status == 0 or c.ended > kill - IN_HANDS_SECONDS)
        and c.started < kill
    ]
    out.figures["kill"] = {
        "calls": len(calls),
        "answered": sum(c.status == 200 for c in calls),
        "unanswered": sum(c.status == 0 for c in calls),
        "other": sum(c.status not in (0, 200) for c in calls),
        "victim_in_hands_at_kill": len(in_hands),
    }
    world["kill_ends"] = {c.trace_id: c.ended for c in in_hands if c.trace_id}
    world["kill"] = {
        "victim": victim,
        "at": kill,
        "in_hands": {c.trace_id for c in in_hands if c.trace_id},
    }
    world["answered"].setdefault(org["org"], []).extend(c for c in calls if c.status)


def phase_redis(
    inst: Installation,
    world: dict[str, Any],
    scale: Scale,
    out: ModeResult,
    restart: Any,
) -> None:
    org = world["traffic"]
    live = [n != world.get("kill", {}).get("victim") for n in range(NODES)]
    until = [time.time() + 60]
    marks: dict[str, float] = world.setdefault("marks", {})
    calls: list[Call] = []
    asyncio.run(_redis_phase(inst, org, scale, live, until, marks, restart, calls))
    down, up = marks["down"], marks["up"]
    during = [c for c in calls if c.started > down + 0.2 and c.ended < up]
    recovered = {}
    for n in range(NODES):
        if live[n]:
            first = [c.ended for c in calls if c.node == n and c.status == 200 and c.started >= up]
            recovered[n] = round(min(first) - up, 3) if first else None
    out.figures["redis"] = {
        "calls": len(calls),
        "ok_200": sum(c.status == 200 for c in calls),
        "refused_503": sum(c.status == 503 for c in calls),
        "other": sum(c.status not in (200, 503) for c in calls),
        "other_answers": sorted({str(c.status) for c in calls if c.status not in (200, 503)}),
        "outage_s": round(up - down, 2),
        "served_200_while_down": sum(c.status == 200 for c in during),
        "recovered_after_s_per_node": [recovered.get(n) for n in range(NODES)],
    }
    if not any(c.status == 503 for c in during):
        out.problems.append("redis: no call refused with 503 while Redis was down")
    if any(c.status == 200 for c in during):
        out.problems.append("redis: calls under a spend policy served while Redis was down")
    if any(v is None for v in recovered.values()):
        out.problems.append(f"redis: a node did not serve again after Redis came back {recovered}")
    if any(c.status not in (200, 503) for c in calls):
        out.problems.append("redis: answers other than 200 and 503")
    world["answered"].setdefault(org["org"], []).extend(c for c in calls if c.status)


async def _redis_phase(
    inst: Installation,
    org: dict[str, Any],
    scale: Scale,
    live: list[bool],
    until: list[float],
    marks: dict[str, float],
    restart: Any,
    calls: list[Call],
) -> list[Call]:
    async with _session() as session:

        async def client(n: int) -> None:
            i = n
            while time.time() < until[0]:
                node = i % NODES
                i += 1
                if not live[node]:
                    continue
                calls.append(await _call(session, inst, node, org["keys"][n % len(org["keys"])]))

        load = asyncio.gather(*(client(n) for n in range(scale.clients)))
        await asyncio.sleep(0.8)
        await asyncio.to_thread(restart, scale.outage_seconds, marks)
        deadline = time.time() + 30
        while time.time() < deadline:
            await asyncio.sleep(0.1)
            recent = [c for c in calls if c.started >= marks["up"] and c.status == 200]
            if all(any(c.node == n for c in recent) for n in range(NODES) if live[n]):
                break
        until[0] = time.time() + 1.0
        await load
    return calls


def phase_stored(inst: Installation, world: dict[str, Any], out: ModeResult) -> None:
    """Every answered call stored once; lost only what a killed node still had in hand."""
    in_hands = world.get("kill", {}).get("in_hands", set())
    deadline = time.monotonic() + 60
    started = time.monotonic()
    while True:
        lost: list[str] = []
        twice: list[str] = []
        expected = stored_runs = 0
        charged_rows = 0.0
        for org, calls in world["answered"].items():
            traces = sorted({c.trace_id for c in calls if c.trace_id})
            answer = inst.ask("stored", {"org": org, "traces": traces})
            expected += len(traces)
            stored_runs += sum(1 for n in answer["per_trace"].values() if n)
            lost += [t for t, n in answer["per_trace"].items() if n == 0]
            twice += [t for t, n in answer["per_trace"].items() if n > 1]
            if org == world["spend"]["org"]:
                charged_rows = answer["usage_cost"]
        unexplained = [t for t in lost if t not in in_hands]
        if not unexplained or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if unexplained:
        by_trace = {c.trace_id: c for calls in world["answered"].values() for c in calls}
        marks = world.get("marks", {})
        for t in unexplained[:10]:
            c = by_trace[t]
            out.problems.append(
                f"lost {t}: node {c.node} status {c.status} started "
                f"{ {k: round(c.started - v, 3) for k, v in marks.items()} }"
            )
    ends = world.get("kill_ends", {})
    lost_ages = [
        kill_at - ends[t] for t in lost if t in ends for kill_at in [world["marks"]["kill"]]
    ]
    out.figures["stored"] = {
        "answered_calls": expected,
        "stored": stored_runs,
        "lost": len(lost),
        "lost_in_killed_nodes_hands": len(lost) - len(unexplained),
        "lost_answered_at_most_ms_before_kill": round(max(lost_ages) * 1000) if lost_ages else None,
        "stored_twice": len(twice),
        "spend_org_usage_usd": round(charged_rows, 6),
        "drain_wait_s": round(time.monotonic() - started, 2),
    }
    if unexplained:
        out.problems.append(f"stored: {len(unexplained)} answered call(s) lost")
    if twice:
        out.problems.append(f"stored: {len(twice)} call(s) stored twice")
    if round(charged_rows, 6) != round(CAP_CALLS * 0.001, 6):
        out.problems.append(f"stored: the capped organization's usage is ${charged_rows:.6f}")


# --- the run ---------------------------------------------------------------------------------


def _admin_url(database_url: str) -> str:
    return database_url.rsplit("/", 1)[0] + "/postgres"


@contextlib.contextmanager
def database(url: str | None = None) -> Iterator[str]:
    """A fresh database: `url` (dropped and created again), else one beside DATABASE_URL's."""
    import psycopg

    keep = bool(url)
    if not url:
        base = os.environ.get("DATABASE_URL", "")
        if not base.startswith(("postgres://", "postgresql://")):
            raise RuntimeError("the cluster test needs PostgreSQL: set DATABASE_URL")
        url = f"{base.rsplit('/', 1)[0]}/gw_cluster_{uuid.uuid4().hex[:8]}"
    name = url.rsplit("/", 1)[1].split("?")[0]
    with psycopg.connect(_admin_url(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url
    finally:
        if not keep:
            with (
                contextlib.suppress(Exception),
                psycopg.connect(_admin_url(url), autocommit=True) as conn,
            ):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_mode(mode: str, database_url: str, workdir: Path, scale: Scale) -> ModeResult:
    out = ModeResult(mode)
    home = workdir / mode
    home.mkdir()
    t0 = time.monotonic()
    redis: RedisServer | RedisCluster
    if mode == "cluster":
        redis = RedisCluster(cluster_ports(3), home / "redis", persistent=True)
    else:
        redis = RedisServer(free_port(), home / "redis", persistent=True)
    redis.start()
    url = redis.url if mode == "cluster" else f"{redis.url}/0"

    def restart(outage: float, marks: dict[str, float]) -> None:
        redis.stop()
        marks["down"] = time.time()  # every master is gone from here
        time.sleep(outage)
        # Down ends when the first server starts again: a call the gateway serves from then on
        # may rightly reach its counters (a cluster's masters come back one by one, each
        # serving its own slots before the whole cluster says ok).
        marks["up"] = time.time()
        if isinstance(redis, RedisCluster):
            for server in redis.servers:
                server.start()
            redis.wait_ok()
        else:
            redis.start()

    inst = Installation(home, database_url, url)
    try:
        inst.start()
        out.figures["start_s"] = round(time.monotonic() - t0, 1)
        world = inst.ask(
            "seed",
            {
                "fake_url": f"http://127.0.0.1:{inst.fake_port}",
                "tag": f"{mode}-{uuid.uuid4().hex[:6]}",
                "cap_usd": str(CAP_CALLS / 1000),
            },
        )
        world["answered"] = {}
        time.sleep(0.2)  # the new keys reach every node through the change channel
        for name, phase in (
            ("spend", phase_spend),
            ("change", phase_change),
            ("kill", phase_kill),
        ):
            t = time.monotonic()
            phase(inst, world, scale, out)
            out.figures[f"{name}_s"] = round(time.monotonic() - t, 1)
        t = time.monotonic()
        phase_redis(inst, world, scale, out, restart)
        out.figures["redis_s"] = round(time.monotonic() - t, 1)
        t = time.monotonic()
        phase_stored(inst, world, out)
        out.figures["stored_s"] = round(time.monotonic() - t, 1)
    finally:
        inst.stop()
        redis.stop()
    out.figures["total_s"] = round(time.monotonic() - t0, 1)
    if out.problems:  # what the processes said about it: their errors, last first
        log = (home / "processes.log").read_text(errors="replace").splitlines()
        # The gateway's own first (a traceback's last line names the exception), then Celery's.
        errors = [line for line in log if "ERROR" in line or "Error" in line]
        gateway = [line for line in errors if "/MainProcess]" not in line]
        out.problems += [f"log: {line[:300]}" for line in (gateway or errors)[-12:]]
    return out


def migrate(database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": "", "DEBUG": "True"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=600,
    )


def run(
    modes: list[str], scale: Scale, database_url: str | None = None, keep: str | None = None
) -> list[ModeResult]:
    """Every mode in turn; `keep`: a directory for the processes' files and logs, kept."""
    results = []
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(database(database_url))
        if keep:
            tmp = keep
            Path(keep).mkdir(parents=True, exist_ok=False)
        else:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="gw-cluster-"))
        t = time.monotonic()
        migrate(url)
        migrate_s = round(time.monotonic() - t, 1)
        for mode in modes:
            result = run_mode(mode, url, Path(tmp), scale)
            result.figures["migrate_s"] = migrate_s
            results.append(result)
            sys.stdout.write(report(result) + "\n")
            sys.stdout.flush()
    return results


def report(result: ModeResult) -> str:
    f = result.figures
    lines = [
        f"cluster test, Redis {result.mode}: {NODES} gateway nodes x {WORKERS_PER_NODE} workers, "
        f"{CELERY_WORKERS} Celery workers + beat, one PostgreSQL database"
    ]
    for name in ("spend", "change", "kill", "redis", "stored"):
        if name in f:
            lines.append(f"  {name:7s} " + ", ".join(f"{k}={v}" for k, v in f[name].items()))
    timing = {k: v for k, v in f.items() if k.endswith("_s")}
    lines.append("  seconds " + ", ".join(f"{k[:-2]}={v}" for k, v in timing.items()))
    lines.append("  problems: " + ("; ".join(result.problems) if result.problems else "none"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="single,cluster")
    parser.add_argument("--long", action="store_true", help="a larger burst and longer phases")
    parser.add_argument("--keep", help="a new directory for the processes' files and logs, kept")
    args = parser.parse_args(argv)
    scale = (
        Scale(burst=1200, clients=16, kill_seconds=8.0, outage_seconds=5.0)
        if args.long
        else Scale()
    )
    results = run(
        args.modes.split(","), scale, os.environ.get("CLUSTER_DATABASE_URL") or None, args.keep
    )
    return 1 if any(r.problems for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
