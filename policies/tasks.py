"""The policies app's Celery tasks, one module per policy kind; imported here so that Celery's
autodiscovery (which looks for `<app>.tasks`) registers them in every worker."""

from policies.spend.tasks import (  # noqa: F401
    aggregate_spend_totals,
    deliver_spend_alert,
    sweep_spend_alerts,
)
