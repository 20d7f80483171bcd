"""The change signal: every gateway process learns that configuration changed, in every mode.

The proxy serves every call from in-process snapshots (hotpath.snapshot); a change committed
anywhere (the admin, the REST API, a `manage.py` command, a Celery task, any process on any
host) must reach every call that starts shortly after. Writers `announce(topic)` (model
signals do it through `connect_model`); readers, the gateway processes, `poll()` before each
call and hold a version per topic that a snapshot compares with the one it was loaded at.

How a change travels, by mode:
- **the same host, every mode**: a memory-mapped generation file (one 8-byte slot per topic,
  in the temp directory, named after the database). The writer stores a new random value in the
  topic's slot after its transaction commits; a reader compares the slots with what it last saw
  on every poll (about 0.1 µs). The write happens before the writer's service call returns, so
  a call that starts after it returned already sees the change: no lag at all on one host.
- **Redis** (`REDIS_URL` set): PUBLISH on redis_channel() after the commit; each gateway process holds
  a subscription, read by a thread of its own that waits on the socket: a call pays nothing
  for it, and a message is taken in as soon as that thread gets the interpreter lock (a few
  milliseconds at most on a busy worker). Redis writes the message to the subscribers' sockets
  in the same pass as the publisher's reply.
- **PostgreSQL without Redis**: `pg_notify` inside the writer's transaction (delivered exactly
  when it commits, never if it rolls back); each gateway process LISTENs on its own connection,
  read the same way. PostgreSQL hands notifications to listeners a few milliseconds after the
  commit (measured 1 to 4 ms here), so across hosts the lag is that; on the same host the file
  has already carried the change.
- **SQLite**: only the file (SQLite is one host by nature).

A remote subscription that is lost (Redis or PostgreSQL restarted) counts as a change of every
topic, when it is lost and again when it is back, since messages may have been missed meanwhile;
while it is down snapshots also reload every second. A publish that fails never fails the write:
the periodic refresh of every snapshot is the safety net.

Topics name what a snapshot holds (TOPICS); a model is connected to the topics its rows feed.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import mmap
import os
import select
import tempfile
import threading
import time
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models.signals import post_delete, post_save

if TYPE_CHECKING:
    from django.db.models import Model

logger = logging.getLogger(__name__)

CHANNEL = "gateway_changes"  # PostgreSQL LISTEN channel; Redis: redis_channel()

# Slots of the generation file; a topic not listed shares a hashed slot (a spurious reload at
# worst, never a missed one).
TOPICS = ("keys", "secrets", "prices", "spend", "redaction", "routes", "ratelimit", "modelaccess")
_SLOTS = 64
_FILE_SIZE = _SLOTS * 8
_RECONNECT_MAX_SECONDS = 5.0
# The listening thread wakes at least this often (to notice close()) while no message comes.
LISTEN_SECONDS = 0.2


def redis_channel(url: str) -> str:
    """The Redis channel of the installation at `url`: pub/sub ignores database numbers, so
    two installations sharing a Redis server on different databases get their own channel. In a
    Redis Cluster a PUBLISH reaches the subscribers of every node."""
    from hotpath.redis_client import database_of

    return f"{CHANNEL}:{database_of(url)}"


def slot_of(topic: str) -> int:
    if topic in TOPICS:
        return TOPICS.index(topic)
    return len(TOPICS) + zlib.crc32(topic.encode()) % (_SLOTS - len(TOPICS))


def _database_identity() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        name = str(db["NAME"])
        if "memory" in name:  # an in-memory database lives in one process only
            return f"sqlite-memory:{os.getpid()}:{name}"
        return "sqlite:" + os.path.realpath(name)
    return f"{db['ENGINE']}:{db.get('HOST')}:{db.get('PORT')}:{db.get('NAME')}"


def generation_file_path() -> str:
    """Where this installation's generation file lives: one per database, per OS user."""
    configured = getattr(settings, "GATEWAY_CHANGES_FILE", "")
    if configured:
        return configured
    digest = hashlib.blake2b(_database_identity().encode(), digest_size=8).hexdigest()
    return str(Path(tempfile.gettempdir()) / f"llm-gateway-{os.getuid()}-{digest}.changes")


class _GenerationFile:
    """The same-host signal: 64 slots of 8 bytes, memory-mapped for reading."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None
        self._map: mmap.mmap | None = None
        self.last = b""

    def _open(self) -> bool:
        if self._fd is not None:
            return True
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            if os.fstat(fd).st_size < _FILE_SIZE:
                os.ftruncate(fd, _FILE_SIZE)
            self._map = mmap.mmap(fd, _FILE_SIZE, prot=mmap.PROT_READ)
            self._fd = fd
            self.last = self._map[:_FILE_SIZE]
        except OSError as exc:  # another user's file, a read-only temp dir: remote signals only
            logger.warning("change signal file %s unusable (%s)", self.path, exc)
            return False
        return True

    def bump(self, topic: str) -> None:
        if self._open():
            os.pwrite(self._fd, os.urandom(8), slot_of(topic) * 8)  # type: ignore[arg-type]

    def changed_slots(self) -> list[int]:
        """Slots whose value moved since the last call (none when the file is unusable)."""
        if self._map is None and not self._open():
            return []
        current = self._map[:_FILE_SIZE]  # type: ignore[index]
        if current == self.last:
            return []
        last = self.last
        moved = [i for i in range(_SLOTS) if current[i * 8 : i * 8 + 8] != last[i * 8 : i * 8 + 8]]
        self.last = current
        return moved


class _RedisSubscription:
    def __init__(self, url: str) -> None:
        self.url = url
        self.client: Any = None  # kept: a collected client closes its pool, and the pubsub's
        self.pubsub: Any = None  # connection with it

    def connect(self) -> None:
        from hotpath.redis_client import sync_client

        client = sync_client(
            self.url,
            socket_connect_timeout=2,
            socket_timeout=2,
            client_name=f"gateway-changes-{os.getpid()}",
        )
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(redis_channel(self.url))
        pubsub.get_message(timeout=1.0)  # the subscription confirmation
        self.client, self.pubsub = client, pubsub

    def read(self, timeout: float) -> list[str]:
        """The topics received, waiting up to `timeout` seconds for the first."""
        topics = []
        while True:
            message = self.pubsub.get_message(timeout=timeout)
            if message is None:
                return topics
            timeout = 0
            data = message.get("data")
            if isinstance(data, bytes):
                topics.append(data.decode(errors="replace"))

    def close(self) -> None:
        if self.pubsub is not None:
            with contextlib.suppress(Exception):
                self.pubsub.close()
                self.client.close()
        self.client = self.pubsub = None


class _PostgresListener:
    def __init__(self, conninfo: dict[str, Any]) -> None:
        self.conninfo = conninfo
        self.conn: Any = None

    def connect(self) -> None:
        import psycopg

        conn = psycopg.connect(autocommit=True, connect_timeout=2, **self.conninfo)
        conn.execute(f"LISTEN {CHANNEL}")
        self.conn = conn

    def read(self, timeout: float) -> list[str]:
        """The topics received, waiting up to `timeout` seconds for the socket to be readable."""
        pgconn = self.conn.pgconn
        select.select([pgconn.socket], [], [], timeout)
        pgconn.consume_input()  # never blocks: libpq reads what the socket holds
        topics = []
        while (note := pgconn.notifies()) is not None:
            topics.append(note.extra.decode(errors="replace"))
        return topics

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
        self.conn = None


def _postgres_conninfo() -> dict[str, Any]:
    db = settings.DATABASES["default"]
    info = {
        "dbname": db.get("NAME") or "postgres",
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
    }
    options = {
        k: v for k, v in (db.get("OPTIONS") or {}).items() if k in ("sslmode", "sslrootcert")
    }
    return {**{k: v for k, v in info.items() if v is not None}, **options}


class ChangeSignal:
    """This process's view of the change signal (one per process: `signal()`).

    `version(topic)` grows each time a change of `topic` is seen; snapshots compare it with the
    version they were loaded at. `poll()` must be cheap: it runs before every proxied call."""

    def __init__(self) -> None:
        self._versions: dict[str, int] = {}
        # Grows after every change of any topic's version: a reader that saw the same
        # generation before knows that no version moved since (one comparison per call).
        self.generation = 0
        self._lock = threading.Lock()
        self._file = _GenerationFile(generation_file_path())
        # Read the file now, before any snapshot of this process loads: a change written
        # between a load and a later first poll must not be taken for the starting point.
        self._file.changed_slots()
        self._slot_topics: dict[int, set[str]] = {}
        self._remote: _RedisSubscription | _PostgresListener | None = None
        self._remote_ok = False
        self._remote_wanted = False
        self._reconnect = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        if settings.REDIS_URL:
            self._remote = _RedisSubscription(settings.REDIS_URL)
        elif connection.vendor == "postgresql":
            self._remote = _PostgresListener(_postgres_conninfo())

    # -- reading (gateway processes) --------------------------------------------------------
    def version(self, topic: str) -> int:
        return self._versions.get(topic, 0)

    def versions(self, topics: tuple[str, ...]) -> tuple[int, ...]:
        get = self._versions.get
        return tuple(get(t, 0) for t in topics)

    @property
    def healthy(self) -> bool:
        """False while a configured remote subscription is down (snapshots then reload often)."""
        return self._remote is None or self._remote_ok or not self._remote_wanted

    def watch(self) -> None:
        """Start listening to the remote signal (idempotent); the file needs nothing."""
        if self._remote is None or self._remote_wanted:
            return
        self._remote_wanted = True
        self._reconnect.set()
        self._thread = threading.Thread(
            target=self._connect_loop, name="gateway-changes", daemon=True
        )
        self._thread.start()

    def poll(self) -> None:
        """Take in every change this host signalled since the last poll (the file). Never
        blocks, never raises. Other hosts' changes need no poll: the listening thread takes
        them in as they arrive."""
        for slot in self._file.changed_slots():
            self._bump_slot(slot)

    def close(self) -> None:
        """Stop listening and close the subscription (a process that stops serving, tests)."""
        self._closed = True
        self._remote_ok = False
        self._reconnect.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._remote is not None:
            self._remote.close()

    def _connect_loop(self) -> None:
        delay = 0.1
        while not self._closed:
            self._reconnect.wait()
            self._reconnect.clear()
            assert self._remote is not None
            while not self._closed:
                self._remote.close()
                try:
                    self._remote.connect()
                    break
                except Exception as exc:
                    logger.warning("change signal unavailable (%s); retrying", type(exc).__name__)
                    time.sleep(delay)
                    delay = min(delay * 2, _RECONNECT_MAX_SECONDS)
            if self._closed:
                return
            delay = 0.1
            self._remote_ok = True
            self.bump_all()  # whatever changed while the subscription was down
            self._listen()
            self._reconnect.set()  # lost: connect again (unless closed)

    def _listen(self) -> None:
        """In the listening thread: take in the subscription's messages until it is lost or
        this signal is closed. A lost subscription counts as a change of every topic."""
        remote = self._remote
        assert remote is not None
        while not self._closed:
            try:
                topics = remote.read(LISTEN_SECONDS)
            except Exception as exc:
                if self._closed:
                    return
                logger.warning("change signal lost (%s); reconnecting", type(exc).__name__)
                self._remote_ok = False
                self.bump_all()
                return
            for topic in topics:
                self._bump(topic)

    # -- writing (any process) --------------------------------------------------------------
    def _bump(self, topic: str) -> None:
        with self._lock:
            self._versions[topic] = self._versions.get(topic, 0) + 1
            self.generation += 1

    def _bump_slot(self, slot: int) -> None:
        for topic in TOPICS:
            if slot_of(topic) == slot:
                self._bump(topic)
        for topic in list(self._versions):
            if topic not in TOPICS and slot_of(topic) == slot:
                self._bump(topic)

    def bump_all(self) -> None:
        with self._lock:
            for topic in {*TOPICS, *self._versions}:
                self._versions[topic] = self._versions.get(topic, 0) + 1
            self.generation += 1

    def committed(self, topic: str) -> None:
        """A change of `topic` committed in this process: tell this process at once, the
        other processes of this host through the file, and other hosts through Redis."""
        self._bump(topic)
        try:
            self._file.bump(topic)
        except OSError as exc:
            logger.warning("could not write the change signal file (%s)", exc)
        if settings.REDIS_URL:
            try:
                _redis_client(settings.REDIS_URL).publish(redis_channel(settings.REDIS_URL), topic)
            except Exception:  # any Redis failure: the periodic refresh still applies it
                logger.warning(
                    "could not publish change of %s; proxies refresh on their timer", topic
                )


_signal: tuple[int, ChangeSignal] | None = None
_signal_lock = threading.Lock()


def signal() -> ChangeSignal:
    """This process's ChangeSignal (a new one after a fork: threads and sockets do not cross)."""
    global _signal
    current = _signal
    if current is not None and current[0] == os.getpid():
        return current[1]
    with _signal_lock:
        if _signal is None or _signal[0] != os.getpid():
            _signal = (os.getpid(), ChangeSignal())
        return _signal[1]


_redis_clients: dict[str, Any] = {}


def _redis_client(url: str) -> Any:
    client = _redis_clients.get(url)
    if client is None:
        from hotpath.redis_client import sync_client

        client = _redis_clients.setdefault(
            url, sync_client(url, socket_timeout=1, socket_connect_timeout=1)
        )
    return client


def announce(topic: str) -> None:
    """Tell every gateway process that `topic` changed, once the current transaction commits
    (at once outside a transaction). Never raises for a signal that cannot be sent.

    Announced once per topic and transaction level, however many rows changed (deleting an
    organization cascades to hundreds of rows)."""
    if connection.in_atomic_block:
        pending = _pending_topics()
        key = (topic, tuple(connection.savepoint_ids))
        if key in pending:
            return
        pending.add(key)
    if connection.vendor == "postgresql" and not settings.REDIS_URL:
        try:  # transactional: delivered to the listeners exactly when this commits
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, topic])
        except Exception:
            logger.warning("could not notify change of %s; proxies refresh on their timer", topic)
    transaction.on_commit(lambda: signal().committed(topic), robust=True)


def _pending_topics() -> set[tuple[str, tuple[str, ...]]]:
    """Topics already announced in the current transaction. Django replaces the list of commit
    hooks with a new one when a transaction ends (commit or rollback), so the set is tied to
    that list: a new transaction starts with an empty set."""
    hooks = connection.run_on_commit
    held = getattr(connection, "_gateway_announced", None)
    if held is None or held[0] is not hooks:
        held = (hooks, set())
        connection._gateway_announced = held  # type: ignore[attr-defined]
    return held[1]


def connect_model(model: type[Model], *topics: str) -> None:
    """Announce `topics` whenever a row of `model` is saved or deleted (signals are used for
    cache invalidation only)."""

    def changed(sender: type[Model], **kwargs: Any) -> None:
        for topic in topics:
            announce(topic)

    uid = f"gateway-changes-{model._meta.label_lower}"
    post_save.connect(changed, sender=model, dispatch_uid=f"{uid}-save", weak=False)
    post_delete.connect(changed, sender=model, dispatch_uid=f"{uid}-delete", weak=False)
