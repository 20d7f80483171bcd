from __future__ import annotations

from django.apps import AppConfig


class PricingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "pricing"
    verbose_name = "Model prices"

    def ready(self) -> None:
        # Signals only for cache invalidation (STYLE 2.2): a price change reaches every proxy
        # process's in-process PriceTable on its next refresh (or at once through Redis).
        from hotpath import changes as invalidation
        from pricing.models import ModelPrice

        invalidation.connect_model(ModelPrice)
