from __future__ import annotations

from django.apps import AppConfig


class SecretsVaultConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "secrets_vault"
    verbose_name = "Integrations"

    def ready(self) -> None:
        # Signals for cache invalidation only: the proxies' provider-secret snapshot.
        from hotpath import changes
        from secrets_vault.models import CustomProvider, ProviderSecret

        changes.connect_model(ProviderSecret, "secrets")
        changes.connect_model(CustomProvider, "secrets")
