from __future__ import annotations

from django.apps import AppConfig


class PricingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "pricing"
    verbose_name = "Model prices"

    def ready(self) -> None:
        # Signals only for cache invalidation: the proxies' price snapshot (hotpath.changes).
        from hotpath import changes
        from pricing.models import ModelPrice

        changes.connect_model(ModelPrice, "prices")
