from __future__ import annotations

from django.apps import AppConfig


class OrgsConfig(AppConfig):
    default = True  # orgs.apps also holds the admin's config; this one is the orgs app
    default_auto_field = "django.db.models.BigAutoField"
    name = "orgs"
    verbose_name = "Settings"

    def ready(self) -> None:
        # Signals for cache invalidation only (STYLE 2.2): the proxy's in-process auth table.
        from hotpath import changes as invalidation
        from orgs import models

        for model in (
            models.Organization,
            models.Workspace,
            models.Role,
            models.OrganizationMember,
            models.WorkspaceMember,
            models.ApiKey,
        ):
            invalidation.connect_model(model)
