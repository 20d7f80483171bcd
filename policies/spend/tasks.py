"""Celery tasks of spend limits (thin: call a service). Scheduled in settings.CELERY_BEAT_SCHEDULE."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from policies.spend.services import spend_totals_aggregate


@shared_task(name="policies.spend.tasks.aggregate_spend_totals", ignore_result=True)
def aggregate_spend_totals() -> int:
    """Recompute the current windows' per-policy totals from the usage rows (idempotent)."""
    return spend_totals_aggregate()


@shared_task(
    bind=True,
    name="policies.spend.tasks.deliver_spend_alert",
    ignore_result=True,
    max_retries=None,  # delivery_attempt gives up after GATEWAY_ALERT_MAX_ATTEMPTS
    acks_late=True,
)
def deliver_spend_alert(self: Any, delivery_id: int) -> None:
    """One attempt at a budget alert delivery; retried with the backoff it answers."""
    from policies.spend.alerts import delivery_attempt

    retry_in = delivery_attempt(delivery_id)
    if retry_in is not None:
        raise self.retry(countdown=retry_in)


@shared_task(name="policies.spend.tasks.sweep_spend_alerts", ignore_result=True)
def sweep_spend_alerts() -> int:
    """Send again budget alert deliveries a lost message or a dead worker left behind."""
    from policies.spend.alerts import deliveries_sweep

    return deliveries_sweep()
