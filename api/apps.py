from __future__ import annotations

from django.apps import AppConfig


class ApiConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "api"
    verbose_name = "Management API"

    def ready(self) -> None:
        # Registers the OpenAPI description of the gateway-key authentication (drf-spectacular
        # discovers extensions by import).
        from api import schema  # noqa: F401
