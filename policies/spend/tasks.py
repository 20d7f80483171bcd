"""Celery tasks of spend limits (thin: call a service). Scheduled in settings.CELERY_BEAT_SCHEDULE."""

from __future__ import annotations

from celery import shared_task

from policies.spend.services import spend_totals_aggregate


@shared_task(name="policies.spend.tasks.aggregate_spend_totals", ignore_result=True)
def aggregate_spend_totals() -> int:
    """Recompute the current windows' per-policy totals from the usage rows (idempotent)."""
    return spend_totals_aggregate()
