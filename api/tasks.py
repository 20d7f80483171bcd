"""Celery tasks of the api app: thin wrappers around its services."""

from __future__ import annotations

from celery import shared_task

from api.services import usage_rollup_refresh


@shared_task(ignore_result=True)
def refresh_usage_rollup() -> int:
    """Roll closed days of usage into UsageDaily (beat: every 5 minutes; idempotent)."""
    return usage_rollup_refresh()
