from __future__ import annotations

from django.apps import AppConfig


class ModelRoutesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "model_routes"
    verbose_name = "Model routes"

    def ready(self) -> None:
        # Signals for cache invalidation only: the proxies' routes snapshot.
        from hotpath import changes
        from model_routes.models import ModelRoute

        changes.connect_model(ModelRoute, "routes")
