from __future__ import annotations

from django.apps import AppConfig


class SecretsVaultConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "secrets_vault"
    verbose_name = "Integrations"
