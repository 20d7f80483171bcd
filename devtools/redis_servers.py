"""Redis servers of a test's own, from the `redis-server` binary: one server, or a Redis Cluster of
masters (`--cluster-enabled yes`, joined with `redis-cli --cluster create`), on loopback ports,
each in a directory of its own, stopped (and restartable) by the test that started them.

    with RedisCluster([7101, 7102, 7103], tmp) as cluster:
        cluster.url            # redis+cluster://127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103
        cluster.restart()      # every master stopped, then started again on the same nodes.conf
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when the process that started it dies (Linux)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def redis_binaries() -> tuple[str, str] | None:
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    return (server, cli) if server and cli else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cluster_ports(count: int) -> list[int]:
    """`count` free loopback ports whose cluster-bus ports (port + 10000) are free too."""
    import random

    ports: list[int] = []
    rng = random.Random()
    for _ in range(1000):
        port = rng.randrange(20000, 30000)
        if port in ports:
            continue
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        ports.append(port)
        if len(ports) == count:
            return ports
    raise RuntimeError("no free ports for a Redis Cluster")


def _wait_port(port: int, *, up: bool, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                if up:
                    return
        except OSError:
            if not up:
                return
        time.sleep(0.02)
    raise TimeoutError(f"redis on port {port} did not come {'up' if up else 'down'}")


class RedisServer:
    """One redis-server process on 127.0.0.1:`port`, its files in `directory`."""

    def __init__(
        self, port: int, directory: Path, *, cluster: bool = False, persistent: bool = False
    ) -> None:
        self.port = port
        self.directory = directory
        self.cluster = cluster
        # Append-only file synced at every write: a SIGKILL loses nothing acknowledged (what a
        # production Redis holding the record stream should run with, docs/operations.md).
        self.persistent = persistent
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
            "--save",
            "",
            "--appendonly",
            "yes" if self.persistent else "no",
            "--appendfsync",
            "always",
            "--protected-mode",
            "no",
            "--logfile",
            str(self.directory / "redis.log"),
        ]
        if self.cluster:
            args += [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "2000",
                "--cluster-require-full-coverage",
                "yes",
            ]
        # A test killed outright leaves no server behind. The kernel ties this to the thread
        # that started the server, so only one started by the main thread gets it (a server
        # restarted from a worker thread would die when that thread ends).
        main = threading.current_thread() is threading.main_thread()
        self.process = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if main else None,
        )
        _wait_port(self.port, up=True)

    def stop(self) -> None:
        """SIGKILL (a crash: nothing saved, as persistence is off), then wait for the port."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self.process = None
        _wait_port(self.port, up=False)

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RedisCluster:
    """A Redis Cluster of masters only (no replicas), one per port."""

    def __init__(self, ports: list[int], directory: Path, *, persistent: bool = False) -> None:
        self.servers = [
            RedisServer(p, directory / str(p), cluster=True, persistent=persistent) for p in ports
        ]

    @property
    def url(self) -> str:
        nodes = ",".join(f"127.0.0.1:{s.port}" for s in self.servers)
        return f"redis+cluster://{nodes}"

    def start(self) -> None:
        """A new cluster: each node's directory emptied (no nodes.conf of an earlier cluster)."""
        try:
            for server in self.servers:
                shutil.rmtree(server.directory, ignore_errors=True)
                server.start()
            subprocess.run(
                [
                    "redis-cli",
                    "--cluster",
                    "create",
                    *[f"127.0.0.1:{s.port}" for s in self.servers],
                    "--cluster-replicas",
                    "0",
                    "--cluster-yes",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=60,
            )
            self.wait_ok()
        except BaseException:
            self.stop()
            raise

    def wait_ok(self, timeout: float = 30.0) -> None:
        """Until every node reports cluster_state:ok (the slots are all served)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = []
            for server in self.servers:
                out = subprocess.run(
                    ["redis-cli", "-p", str(server.port), "cluster", "info"],
                    capture_output=True,
                    text=True,
                    timeout=5,
                ).stdout
                states.append("cluster_state:ok" in out)
            if all(states):
                return
            time.sleep(0.1)
        raise TimeoutError("the Redis Cluster did not reach cluster_state:ok")

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def restart(self) -> None:
        """Every master killed and started again: same nodes.conf (slots); the data only if
        persistent."""
        self.stop()
        for server in self.servers:
            server.start()
        self.wait_ok()

    def __enter__(self) -> RedisCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
