from __future__ import annotations

from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "policies"
    verbose_name = "Policies"

    def ready(self) -> None:
        # Signals for cache invalidation only (STYLE 2.2): the proxies' policy snapshots.
        from hotpath import changes as invalidation
        from policies.spend import models as models_spend

        for model in (models_spend.SpendPolicy, models_spend.SpendWindow):
            invalidation.connect_model(model)
