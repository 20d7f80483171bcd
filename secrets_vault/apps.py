from __future__ import annotations

from django.apps import AppConfig


class SecretsVaultConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "secrets_vault"
    verbose_name = "Integrations"

    def ready(self) -> None:
        # Signals for cache invalidation only (STYLE 2.2): the proxy's in-process secret table.
        from hotpath import changes as invalidation
        from secrets_vault.models import ProviderSecret

        invalidation.connect_model(ProviderSecret)
