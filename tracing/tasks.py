"""Celery tasks of the tracing pipeline: thin wrappers around shipping and services."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from tracing.partitions import partitions_ensure
from tracing.rollup import usage_rollup_refresh
from tracing.services import runs_prune, security_events_prune
from tracing.shipping import runs_drain


@shared_task(ignore_result=True)
def drain_runs(max_seconds: float = 5.0) -> int:
    """Drain the Redis stream of call records into the database (beat: every second).

    Safe to run concurrently: each worker reads its own entries of the consumer group.
    Without REDIS_URL there is nothing to drain (records are written in-process).
    """
    if not settings.REDIS_URL:
        return 0
    return runs_drain(max_seconds=max_seconds)


@shared_task(ignore_result=True)
def prune_runs() -> list[int]:
    """Create the runs' and usage's time partitions of the days ahead (PostgreSQL), then remove
    runs, usage rows and security events past their retention (beat: every 10 min)."""
    partitions_ensure()
    runs, usage = runs_prune()
    return [runs, usage, security_events_prune()]


@shared_task(ignore_result=True)
def refresh_usage_rollup() -> int:
    """Roll closed days of usage into UsageDaily (beat: every 5 minutes; idempotent)."""
    return usage_rollup_refresh()
