"""A bounded, append-only, on-disk spool for call records that could not be shipped.

When Redis (or, without Redis, the database) is unreachable, the recorder appends the batch to
`GATEWAY_SPOOL_DIR/db-<identity>/records-<host>-<pid>.jsonl` (one JSON record per line,
fsynced) and the gateway keeps serving. The next successful ship replays every spooled file of
that directory first.

Keyed by database identity: several gateways started from one install (one checkout, one
default spool directory) may use different databases. Each spools under the identity of its
own database (`database_identity`: engine and location, never credentials), every spooled line
carries that identity, and a replay only reads its own directory and refuses (sets aside, as
`*.foreign`) any line that names another database: a record, prompts and all, is only ever
stored in the database of the gateway that served it.

Concurrency (several gateway processes may share one spool directory):
- a writer appends only to its own file, under an exclusive flock, and after taking the lock
  checks that the path still names the file it opened (a replayer may have renamed it away);
- a replayer claims a file by renaming it to `*.replaying` (rename is atomic, so only one
  process wins), then takes the flock, which waits for an in-flight append to finish, so it
  reads only whole batches, and releases it at once (no producer appends to a renamed file).
  It reads and pushes the file a chunk at a time: a backlog spooled while the destination
  lagged is never held in memory whole. On failure the claimed file is renamed back to a
  `.jsonl` name (the records already pushed are pushed again: at-least-once).
- a claim left behind by a crashed process is taken over after STALE_CLAIM_SECONDS.
Delivery is at-least-once (a crash between a push and the unlink replays the file again);
ingestion is idempotent by run_id, so duplicates are harmless.

Bounded: when the directory holds GATEWAY_SPOOL_MAX_BYTES, new records are dropped and an
error is logged with their count. Losing the newest records of a very long outage is the
accepted trade-off against filling the disk the gateway runs on.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import socket
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson
from django.conf import settings

from hotpath.callrecord import CallRecord
from hotpath.refusals import RefusedCalls

logger = logging.getLogger(__name__)


# What crosses the spool and the Redis stream: call records and refused-call counts.
ShippedRecord = CallRecord | RefusedCalls | dict[str, Any]  # a dict: a decoded call record


def record_decoded(data: Any) -> dict[str, Any] | RefusedCalls:
    """A record read back from JSON as ingestion takes it: a refused-call count (no run id, a
    reason), or the call record's own dict (no CallRecord built: runs_ingest reads the dict,
    which costs the drain less than constructing one object per record; missing fields take
    CallRecord's defaults there, unknown ones are ignored). Raises TypeError for anything
    that is not a JSON object."""
    if not isinstance(data, dict):
        raise TypeError(f"a record is a JSON object, not {type(data).__name__}")
    if "run_id" not in data and "reason" in data:
        names = RefusedCalls.__slots__
        return RefusedCalls(**{k: v for k, v in data.items() if k in names})
    return data


STALE_CLAIM_SECONDS = 300.0
_WRITE_ATTEMPTS = 5


def database_identity() -> str:
    """A short, stable name of the database the records are meant for: a hash of its engine and
    location (host, port, name, or the SQLite file), so no credential is written anywhere."""
    db = settings.DATABASES["default"]
    name = str(db.get("NAME") or "")
    if "sqlite" in db.get("ENGINE", ""):
        location = name if name.startswith(("file:", ":memory:")) else str(Path(name).resolve())
    else:
        location = f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or ''}/{name}"
    text = f"{db.get('ENGINE', '')}|{location}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _root() -> Path:
    return Path(settings.GATEWAY_SPOOL_DIR)


def _spool_dir(*, create: bool = True) -> Path:
    """This database's own spool directory."""
    path = _root() / f"db-{database_identity()}"
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def spool_dir() -> Path:
    """The spool directory of this gateway (created when missing)."""
    return _spool_dir()


def _own_file(directory: Path) -> Path:
    return directory / f"records-{socket.gethostname()}-{os.getpid()}.jsonl"


def spool_size() -> int:
    """Bytes currently spooled on this host (every process and database sharing the root)."""
    total = 0
    root = _root()
    if not root.is_dir():
        return 0
    for directory in (root, *(p for p in root.iterdir() if p.is_dir())):
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.name.startswith("records-") and entry.is_file():
                    try:
                        total += entry.stat().st_size
                    except FileNotFoundError:
                        continue
    return total


# spool_write's view of spool_size: measured at most once per SIZE_CHECK_SECONDS while the
# spool is far from its bound (the writer keeps it near empty), plus what this process wrote
# since; at every write once the estimate passes half the bound.
SIZE_CHECK_SECONDS = 1.0


@dataclass
class _SizeEstimate:
    root: str = ""
    size: int = 0
    measured_at: float = float("-inf")


_estimate = _SizeEstimate()


def _estimated_size(adding: int, limit: int) -> int:
    """The spooled bytes to check a write of `adding` bytes against `limit`: measured again
    unless the last measure is recent and the spool far from the bound, so a steady spool
    costs one directory scan a second, not one per batch; other processes' writes of the
    last second are all it may miss, and only while under half the bound."""
    now = time.monotonic()
    root = str(_root())
    estimate = _estimate
    if (
        estimate.root != root
        or now - estimate.measured_at >= SIZE_CHECK_SECONDS
        or (estimate.size + adding) * 2 > limit
    ):
        estimate.root, estimate.size, estimate.measured_at = root, spool_size(), now
    return estimate.size


def spool_pending() -> bool:
    """True when a spooled file of this database waits for replay (a cheap directory listing)."""
    directory = _spool_dir(create=False)
    if not directory.is_dir():
        return False
    with os.scandir(directory) as entries:
        return any(
            e.name.startswith("records-") and e.name.endswith((".jsonl", ".replaying"))
            for e in entries
        )


def spool_write(records: list[ShippedRecord]) -> int:
    """Append `records` durably; return how many were written (0 when the spool is full)."""
    if not records:
        return 0
    directory = _spool_dir()
    # Each line names its database: {"_db": "<identity>", ...the record's fields}.
    head = b'{"_db":"' + directory.name.removeprefix("db-").encode() + b'",'
    data = b"".join(head + orjson.dumps(r)[1:] + b"\n" for r in records)  # dataclasses natively
    limit = settings.GATEWAY_SPOOL_MAX_BYTES
    if _estimated_size(len(data), limit) + len(data) > limit:
        logger.error(
            "tracing spool full (%d bytes max): dropped %d call record(s)",
            settings.GATEWAY_SPOOL_MAX_BYTES,
            len(records),
        )
        return 0
    path = _own_file(directory)
    for _ in range(_WRITE_ATTEMPTS):
        with path.open("ab") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                if path.stat().st_ino != os.fstat(fh.fileno()).st_ino:
                    continue  # renamed away by a replayer between open and lock: reopen
            except FileNotFoundError:
                continue
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
            _estimate.size += len(data)
            return len(records)
    logger.error("tracing spool: could not append %d call record(s)", len(records))
    return 0


def _candidates(directory: Path) -> list[Path]:
    now = time.time()
    found = []
    for path in sorted(directory.glob("records-*")):
        if path.suffix == ".jsonl":
            found.append(path)
        elif path.suffix == ".replaying":
            try:
                if now - path.stat().st_mtime > STALE_CLAIM_SECONDS:
                    found.append(path)
            except FileNotFoundError:
                continue
    return found


def _chunks(fh: IO[bytes], path: Path, chunk: int) -> Generator[list[ShippedRecord], None, None]:
    """The records of a claimed file that belong to this database, `chunk` at a time, read as
    they are pushed: a file spooled while the destination lagged (a backlog of minutes, up to
    GATEWAY_SPOOL_MAX_BYTES) is never held in memory whole, only one chunk of it. Lines naming
    another database (or none) are set aside in a `*.foreign` file beside it, never replayed
    here."""
    identity = database_identity()
    records: list[ShippedRecord] = []
    kept: Path | None = None
    out: IO[bytes] | None = None
    foreign = 0
    try:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                data = orjson.loads(line)
                if data.pop("_db", None) != identity:
                    if out is None:
                        kept = path.with_name(f"records-{os.getpid()}-{time.time_ns()}.foreign")
                        out = kept.open("wb")
                    out.write(line)
                    foreign += 1
                    continue
                records.append(record_decoded(data))
            except (orjson.JSONDecodeError, TypeError, AttributeError) as exc:
                # A torn last line after a crash mid-append: that one record is unreadable.
                logger.error(
                    "tracing spool: skipped unreadable line %d of %s (%s)", number, path, exc
                )
                continue
            if len(records) >= chunk:
                yield records
                records = []
        if records:
            yield records
    finally:
        if out is not None:
            out.flush()
            os.fsync(out.fileno())
            out.close()
            logger.error(
                "tracing spool: %d record(s) in %s are for another database; kept in %s, "
                "not replayed",
                foreign,
                path,
                kept,
            )


def _replay_file(
    path: Path,
    push: Callable[[list[ShippedRecord]], None],
    chunk: int,
    transient: tuple[type[BaseException], ...],
) -> int:
    claim = path.with_name(f"{path.stem}.{os.getpid()}-{time.time_ns()}.replaying")
    try:
        path.rename(claim)
    except FileNotFoundError:
        return 0  # another process claimed it first
    os.utime(claim)
    pushed = 0
    with claim.open("rb") as fh:
        # The lock waits for an append in flight to finish; once taken, no producer appends to
        # this file any more (each finds its path renamed away), so it is released at once: a
        # producer that opened the file just before the rename must not wait for the replay.
        fcntl.flock(fh, fcntl.LOCK_EX)
        fcntl.flock(fh, fcntl.LOCK_UN)
        with contextlib.closing(_chunks(fh, claim, max(1, chunk))) as chunks:
            for records in chunks:
                try:
                    push(records)
                except transient:
                    returned = f"records-returned-{os.getpid()}-{time.time_ns()}.jsonl"
                    claim.rename(claim.with_name(returned))
                    raise
                except Exception:
                    # Not an outage but records the destination refuses: retrying would fail
                    # the same way on every ship, so the file is set aside (kept, counted in
                    # the bound, never replayed).
                    bad = claim.with_name(f"records-quarantined-{os.getpid()}-{time.time_ns()}.bad")
                    claim.rename(bad)
                    logger.exception("tracing spool: records refused, file kept as %s", bad)
                    return 0
                pushed += len(records)
    claim.unlink()
    return pushed


def spool_replay(
    push: Callable[[list[ShippedRecord]], None],
    *,
    chunk: int = 500,
    transient: tuple[type[BaseException], ...] = (Exception,),
) -> int:
    """Hand every spooled record to `push` in chunks, oldest file first; return the count.

    A file is deleted only after all its records were pushed. If `push` raises one of
    `transient` (the destination is unreachable), the file is put back for a later replay and
    the exception propagates (the caller spools its own batch). Any other exception means the
    records themselves are refused: that file is quarantined (`*.bad`) and replay goes on.
    """
    directory = _spool_dir(create=False)
    if not directory.is_dir():
        return 0
    replayed = 0
    for path in _candidates(directory):
        replayed += _replay_file(path, push, chunk, transient)
    if replayed:
        logger.info("tracing spool: replayed %d call record(s)", replayed)
    return replayed
