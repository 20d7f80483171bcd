from __future__ import annotations

from django.apps import AppConfig


class OrgsConfig(AppConfig):
    default = True  # orgs.apps also holds the admin's config; this one is the orgs app
    default_auto_field = "django.db.models.BigAutoField"
    name = "orgs"
    verbose_name = "Settings"

    def ready(self) -> None:
        # Signals for cache invalidation only: the proxies' key snapshot (hotpath.changes).
        from django.contrib.auth import get_user_model

        from hotpath import changes
        from orgs import models

        for model in (
            get_user_model(),  # an inactive user's personal tokens stop working
            models.Organization,
            models.Workspace,
            models.Role,
            models.OrganizationMember,
            models.WorkspaceMember,
            models.ApiKey,
        ):
            changes.connect_model(model, "keys")
