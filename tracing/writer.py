"""The record writer of a gateway without Redis: one process that owns the runs' writes.

Without REDIS_URL, the serving processes do not write runs themselves: their recorder appends
each batch to the spool (tracing.spool: one file per process, fsynced) at most
GATEWAY_RECORD_FLUSH_SECONDS after the call ends, and this process replays the spool into the
database. Why a process of its own: ingesting in the serving process cost it most of its CPU
(the ORM holds the GIL the event loop needs), and several serving processes writing SQLite at
once contend for its single write lock. Here one connection writes short transactions of
CHUNK records and then leaves the lock free for at least as long as it held it, so the admin,
the CLI and the API keep writing while traffic flows. A spooled batch survives the death of
the process that wrote it: `kill -9` of a worker loses only what it had not flushed yet.

Lifecycle, with no process manager (so it works under gunicorn, uvicorn alone or a test
server alike):
- a serving process that records holds a shared flock on `<spool>/producers.lock` for its
  lifetime (the kernel drops it when the process dies, however it dies);
- the writer holds an exclusive flock on `<spool>/writer.lock`. A serving process that finds
  it free (at its first batch, then at most once a second) starts
  `manage.py gateway_record_writer` in a session of its own; when two start one at once, the
  one that does not get the lock exits;
- the writer exits once no serving process holds producers.lock and the spool is empty: when
  the server stops, its last records (those of streams cut at shutdown too) are stored first,
  and the process that started the writer waits for it (EXIT_WAIT_SECONDS at most), so a
  server that has exited has stored its runs. A writer whose database fails after the last
  serving process is gone exits too, leaving the spool for the next start.
  `gateway_record_writer --forever` keeps it running for an operator who supervises it.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.conf import settings
from django.db import DatabaseError, connection, reset_queries

from tracing.services import records_ingest
from tracing.spool import ShippedRecord, spool_dir, spool_pending, spool_replay

logger = logging.getLogger(__name__)

WRITER_LOCK = "writer.lock"
PRODUCERS_LOCK = "producers.lock"
CHUNK = 200  # records per transaction: a few milliseconds of write lock
CHECK_SECONDS = 1.0  # how often a serving process checks that a writer runs
POLL_SECONDS = 0.05  # how often the writer looks for new spooled batches
EXIT_WAIT_SECONDS = 1.5  # how long a stopping serving process waits for the writer it started


def _try_lock(path: Path, mode: int) -> IO[bytes] | None:
    """The open file holding `mode` (LOCK_EX or LOCK_SH) on `path`, or None when taken."""
    fh = path.open("a+b")
    try:
        fcntl.flock(fh, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        return None
    return fh


def _held(path: Path) -> bool:
    """True when some process holds a lock on `path` that excludes an exclusive one."""
    fh = _try_lock(path, fcntl.LOCK_EX)
    if fh is None:
        return True
    fh.close()
    return False


@dataclass
class _Producer:
    """This serving process's registration and the writer it started, if any."""

    lock: IO[bytes] | None = None
    checked: float = float("-inf")
    child: subprocess.Popen[bytes] | None = None


_producer = _Producer()


def writer_ensure() -> None:
    """Register this process as a producer and make sure a writer runs (checked at most once
    per CHECK_SECONDS). Called by the embedded sink after each spooled batch."""
    now = time.monotonic()
    if now - _producer.checked < CHECK_SECONDS:
        return
    _producer.checked = now
    directory = spool_dir()
    if _producer.lock is None:
        lock = directory / PRODUCERS_LOCK
        _producer.lock = lock.open("a+b")
        fcntl.flock(_producer.lock, fcntl.LOCK_SH)  # shared locks never wait for each other
    if _producer.child is not None and _producer.child.poll() is None:
        return  # the writer this process started is alive (poll also reaps one that exited)
    if _held(directory / WRITER_LOCK):
        return
    _producer.child = subprocess.Popen(
        [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "gateway_record_writer"],
        cwd=settings.BASE_DIR,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,  # its log goes to the inherited stderr
        start_new_session=True,  # a Ctrl-C meant for the server must not stop it mid-drain
    )
    logger.info("tracing: started the record writer (pid %d)", _producer.child.pid)


def writer_release() -> None:
    """At this serving process's shutdown, after its last batch: stop being a producer, then
    give the writer it started up to EXIT_WAIT_SECONDS to store the last records, so that a
    server that has stopped has stored its runs (what is not stored by then stays spooled for
    the next start)."""
    if _producer.lock is not None:
        _producer.lock.close()
        _producer.lock = None
    if _producer.child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            _producer.child.wait(EXIT_WAIT_SECONDS)


def _ingest(records: list[ShippedRecord]) -> None:
    """One short transaction, then a quarter of its time with the write lock free: the admin's
    and the CLI's writes wait on SQLite's busy handler, which retries on a timer, so the gaps
    must be real for them to get in."""
    started = time.monotonic()
    records_ingest(records)
    # With DEBUG on (`make run`) Django logs every query on the connection and only a request
    # clears the log: this process serves none, so its log of multi-row inserts grew by ~0.5 KB
    # a call (130 MB over 275,000 calls, measured) until its 9,000-query bound.
    reset_queries()
    time.sleep(max(0.001, (time.monotonic() - started) / 4))


def writer_run(*, stop: threading.Event, forever: bool = False) -> int:
    """Replay the spool into the database until no serving process is left and the spool is
    empty (or, with `forever`, until `stop` is set). Returns the number of records replayed,
    or -1 when another writer already holds the lock."""
    directory = spool_dir()
    own = _try_lock(directory / WRITER_LOCK, fcntl.LOCK_EX)
    if own is None:
        return -1
    replayed = 0
    failing_since: float | None = None
    try:
        while True:
            try:
                count = spool_replay(_ingest, chunk=CHUNK, transient=(DatabaseError,))
                failing_since = None
            except DatabaseError as exc:
                # The batch stays spooled; log once per outage, not once per poll.
                if failing_since is None:
                    failing_since = time.monotonic()
                    logger.warning("tracing writer: database unavailable (%s); retrying", exc)
                connection.close()
                if not forever and not _held(directory / PRODUCERS_LOCK):
                    # Nobody serves any more: the spool waits for the next start.
                    logger.warning("tracing writer: records left spooled in %s", directory)
                    return replayed
                time.sleep(1.0)
                continue
            replayed += count
            if count:
                continue
            # Started by the serving processes: done when the last of them is gone (a stop
            # signal changes nothing: their final records may still be on their way).
            done = stop.is_set() if forever else not _held(directory / PRODUCERS_LOCK)
            if done and not spool_pending():
                return replayed
            time.sleep(POLL_SECONDS)
    finally:
        connection.close()
        own.close()
