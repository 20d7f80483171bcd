"""Writes of the tracing app: ingesting call records as runs, pruning old ones.

Ingestion is the only writer of runs. It is idempotent by `run_id`: the shipping pipeline is
at-least-once (a Redis stream entry is re-delivered when a worker dies before acknowledging,
a spooled file may be replayed twice after a crash), so the same record may arrive more than
once and must be stored once.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.db import DataError, IntegrityError, connection, transaction

from hotpath.callrecord import CallRecord
from hotpath.refusals import REASONS, RefusedCalls
from orgs.models import Workspace
from tracing.ingest_rows import record_rows, rows_insert
from tracing.models import (
    DEFAULT_PROJECT,
    Run,
    SecurityEvent,
    TracingProject,
    UsageRecord,
    project_name_is_valid,
)
from tracing.rollup import run_hourly_add, run_hourly_subtract

logger = logging.getLogger(__name__)

UTC = dt.UTC


def _names(entries: Any) -> bool:
    return bool(entries) and isinstance(entries, list | tuple | dict)


_BLOCKED = Run.PolicyOutcome.BLOCKED.value
_REDACTED = Run.PolicyOutcome.REDACTED.value
_PASSED = Run.PolicyOutcome.PASSED.value
_NONE = Run.PolicyOutcome.NONE.value


def policy_outcome_of(record: Mapping[str, Any]) -> str:
    """Collapse policy results into the one value the runs list filters on (`record`: a call
    record's dict, as runs_ingest reads it).

    blocked: the call was blocked (status) or a policy reports a violation; redacted: it
    passed and redaction replaced something; passed: a policy matched and passed; none: no
    policy applied.
    """
    results = record.get("policy_results")
    if record.get("status") == "blocked" or (results and _names(results.get("violated"))):
        return _BLOCKED
    redactions = record.get("redaction_counts")
    if redactions and any(int(n or 0) > 0 for n in redactions.values()):
        return _REDACTED
    if results and (_names(results.get("matched")) or _names(results.get("passed"))):
        return _PASSED
    return _NONE


def _project_ids(keys: set[tuple[int, str]]) -> dict[tuple[int, str], int]:
    """(workspace_id, name) → project id, creating missing projects (race-safe: the unique
    constraint plus ignore_conflicts lets two workers create the same project at once)."""
    workspace_ids = {ws for ws, _ in keys}
    names = {name for _, name in keys}

    def existing() -> dict[tuple[int, str], int]:
        rows = TracingProject.objects.filter(workspace_id__in=workspace_ids, name__in=names)
        return {(ws, name): pk for pk, ws, name in rows.values_list("pk", "workspace_id", "name")}

    found = existing()
    missing = keys - found.keys()
    if missing:
        TracingProject.objects.bulk_create(
            [TracingProject(workspace_id=ws, name=name) for ws, name in missing],
            ignore_conflicts=True,
        )
        found = existing()
    return found


_FIELDS = CallRecord.__slots__


def _usable(
    records: Iterable[CallRecord | Mapping[str, Any]],
) -> list[tuple[uuid.UUID, Mapping[str, Any], str]]:
    """(run id, record's dict, project name) per distinct run id; records that cannot be
    stored (no workspace, a bad run id or start time) are dropped. A CallRecord is read as
    its dict; decoded records already are one (tracing.spool.record_decoded)."""
    kept: dict[uuid.UUID, tuple[uuid.UUID, Mapping[str, Any], str]] = {}
    dropped = 0
    for record in records:
        data = record if isinstance(record, Mapping) else {n: getattr(record, n) for n in _FIELDS}
        started = data.get("started_at")
        try:
            run_id = uuid.UUID(data["run_id"])
        except (KeyError, ValueError, TypeError, AttributeError):
            dropped += 1
            continue
        if (
            data.get("workspace_id") is None
            or isinstance(started, bool)
            or not isinstance(started, int | float)
        ):
            dropped += 1
            continue
        name = data.get("project_name", DEFAULT_PROJECT)
        if not isinstance(name, str) or not project_name_is_valid(name):
            name = DEFAULT_PROJECT
        kept.setdefault(run_id, (run_id, data, name))
    if dropped:
        logger.warning(
            "tracing: dropped %d record(s) without a workspace, a valid run id or a start time",
            dropped,
        )
    return list(kept.values())


def runs_ingest(records: list[CallRecord | Mapping[str, Any]]) -> int:
    """Store each record as one Run and one UsageRecord; return how many were new.

    Guarantees: idempotent by run_id (a record already stored is skipped, and the insert uses
    ON CONFLICT DO NOTHING for a concurrent duplicate); the project named by the record is
    created on first use in the record's workspace; content is kept only when the workspace's
    trace_content is on at ingest time (the proxy captures it only when on, and a workspace
    that has since turned it off gets none stored); both tables are written in one
    transaction, so a run never exists without its usage row, and the runs that were new are
    added to their hourly totals (RunHourly) in that transaction too. Records without a workspace
    (e.g. unauthenticated calls) cannot belong to a project and are dropped with a warning.
    Newly stored runs are then handed to the OTLP exporter when one is configured.
    """
    usable = _usable(records)
    if not usable:
        return 0
    with transaction.atomic():
        workspaces = {
            pk: (org_id, trace_content)
            for pk, org_id, trace_content in Workspace.objects.filter(
                pk__in={data["workspace_id"] for _, data, _ in usable}
            ).values_list("pk", "organization_id", "trace_content")
        }
        kept = [entry for entry in usable if entry[1]["workspace_id"] in workspaces]
        projects = _project_ids({(data["workspace_id"], name) for _, data, name in kept})
        runs, usages = [], []
        for run_id, data, name in kept:
            workspace_id = data["workspace_id"]
            org_id, trace_content = workspaces[workspace_id]
            run, usage = record_rows(
                data,
                run_id=run_id,
                project_id=projects[(workspace_id, name)],
                organization_id=data.get("organization_id") or org_id,
                keep_content=trace_content,
                policy_outcome=policy_outcome_of(data),
            )
            runs.append(run)
            usages.append(usage)
        new_ids = rows_insert(runs, usages) if runs else set()
        run_hourly_add(runs if len(new_ids) == len(runs) else [r for r in runs if r[0] in new_ids])
    if new_ids and settings.GATEWAY_OTLP_ENDPOINT:
        from tracing.otlp import otlp_export

        otlp_export(
            [
                CallRecord.from_dict({**data, "project_name": name})
                for run_id, data, name in kept
                if run_id in new_ids
            ]
        )
    return len(new_ids)


def runs_ingest_tolerant(records: list[CallRecord | Mapping[str, Any]]) -> int:
    """runs_ingest, except that a batch the database refuses (DataError, IntegrityError: a
    record it cannot store, not an outage) is retried one record at a time and the refused
    records are dropped with an error log. One bad record must not hold back a whole batch
    forever (at-least-once delivery would otherwise re-deliver it on every drain). Outages
    (OperationalError, InterfaceError) propagate so the caller keeps the records."""
    try:
        return runs_ingest(records)
    except (DataError, IntegrityError):
        logger.exception(
            "tracing: a batch of %d record(s) was refused; retrying one by one", len(records)
        )
    stored = 0
    for record in records:
        try:
            stored += runs_ingest([record])
        except (DataError, IntegrityError):
            run_id = record.get("run_id") if isinstance(record, Mapping) else record.run_id
            logger.exception("tracing: dropped call record %s, refused by the database", run_id)
    return stored


def records_ingest(records: list[CallRecord | Mapping[str, Any] | RefusedCalls]) -> int:
    """What every shipping path stores: call records (CallRecords, or their dicts as decoded
    from the stream and the spool) as runs (runs_ingest_tolerant) and refused-call counts as
    security events. Returns how many runs were new."""
    calls = [r for r in records if not isinstance(r, RefusedCalls)]
    refused = [r for r in records if isinstance(r, RefusedCalls)]
    if refused:
        security_events_ingest(refused)
    return runs_ingest_tolerant(calls) if calls else 0


def security_events_ingest(events: list[RefusedCalls]) -> int:
    """Add refused-call counts to their (minute, reason, key prefix, client address) rows,
    creating them as needed, in one transaction; returns the number of rows touched.

    One upsert per row (INSERT ... ON CONFLICT DO UPDATE count = count + excluded.count, the
    same SQL on SQLite and PostgreSQL), so counts from every gateway process add up and two
    ingests at once cannot lose an increment."""
    merged: dict[tuple[int, str, str, str], RefusedCalls] = {}
    for event in events:
        reason = event.reason if event.reason in REASONS else SecurityEvent.Reason.INVALID_KEY
        key = (
            int(event.minute) // 60 * 60,
            reason,
            event.key_prefix[:64],
            event.client_address[:64],
        )
        if key in merged:
            merged[key].count += max(int(event.count), 0)
        else:
            merged[key] = RefusedCalls(
                minute=key[0],
                reason=reason,
                key_prefix=key[2],
                client_address=key[3],
                organization_id=event.organization_id,
                path=(event.path or "")[:200].replace("\x00", "\ufffd"),
                count=max(int(event.count), 0),
            )
    if not merged:
        return 0
    table = SecurityEvent._meta.db_table
    columns = "minute, reason, key_prefix, client_address, organization_id, path, count"
    rows = [
        (
            connection.ops.adapt_datetimefield_value(dt.datetime.fromtimestamp(e.minute, tz=UTC)),
            e.reason,
            e.key_prefix,
            e.client_address,
            e.organization_id,
            e.path,
            e.count,
        )
        for e in merged.values()
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (minute, reason, key_prefix, client_address) "
            f"DO UPDATE SET count = {table}.count + excluded.count",
            rows,
        )
    return len(rows)


def security_events_prune(*, now: dt.datetime | None = None, days: int | None = None) -> int:
    """Delete security events older than GATEWAY_TRACE_RETENTION_DAYS (0 keeps them), in
    batches of 5,000 ids (short transactions)."""
    days = settings.GATEWAY_TRACE_RETENTION_DAYS if days is None else days
    if days <= 0:
        return 0
    cutoff = (now or dt.datetime.now(tz=UTC)) - dt.timedelta(days=days)
    deleted = 0
    while True:
        ids = list(
            SecurityEvent.objects.filter(minute__lt=cutoff)
            .order_by()
            .values_list("pk", flat=True)[:5000]
        )
        if not ids:
            return deleted
        deleted += SecurityEvent.objects.filter(pk__in=ids).delete()[0]


def _prune(
    model: type[Run] | type[UsageRecord], *, cutoff: dt.datetime, batch_size: int, max_batches: int
) -> int:
    from tracing import partitions

    if partitions.is_partitioned(model._meta.db_table):
        return partitions.partitions_drop_before(model._meta.db_table, cutoff)[0]
    deleted = 0
    for _ in range(max_batches):
        ids = list(
            model.objects.filter(started_at__lt=cutoff)
            .order_by()
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            break
        # One short transaction per batch: row locks are held for a few thousand rows at most.
        # Deleted runs leave their hourly totals in the same transaction.
        with transaction.atomic():
            batch = model.objects.filter(pk__in=ids)
            if model is Run:
                run_hourly_subtract(batch)
            deleted += batch.delete()[0]
    return deleted


def runs_prune(
    *,
    now: dt.datetime | None = None,
    run_days: int | None = None,
    usage_days: int | None = None,
    batch_size: int = 5000,
    max_batches: int = 200,
) -> tuple[int, int]:
    """Remove runs older than GATEWAY_TRACE_RETENTION_DAYS and usage rows older than
    GATEWAY_USAGE_RETENTION_DAYS. Usage newer than 40 days is never removed, whatever the
    setting, because monthly spend windows are computed from it. Returns (runs removed, usage
    rows removed).

    On PostgreSQL, where the tables are partitioned by time (tracing.partitions), whole
    partitions that end before the cutoff are dropped (a day of runs, a month of usage: kept
    until the whole period is past the cutoff) and the DEFAULT partition's older rows deleted;
    elsewhere rows are deleted in batches of `batch_size` ids (no long locks, bounded work per
    call: the beat task comes back for the rest)."""
    now = now or dt.datetime.now(tz=UTC)
    run_days = settings.GATEWAY_TRACE_RETENTION_DAYS if run_days is None else run_days
    usage_days = settings.GATEWAY_USAGE_RETENTION_DAYS if usage_days is None else usage_days
    usage_days = max(usage_days, 40)
    runs = 0
    if run_days > 0:
        runs = _prune(
            Run,
            cutoff=now - dt.timedelta(days=run_days),
            batch_size=batch_size,
            max_batches=max_batches,
        )
    usage = _prune(
        UsageRecord,
        cutoff=now - dt.timedelta(days=usage_days),
        batch_size=batch_size,
        max_batches=max_batches,
    )
    return runs, usage
