from __future__ import annotations

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class OrgsConfig(AppConfig):
    default = True  # orgs.apps also holds the admin's config; this one is the orgs app
    default_auto_field = "django.db.models.BigAutoField"
    name = "orgs"
    verbose_name = "Settings"

    def ready(self) -> None:
        # Signals for cache invalidation only (STYLE 2.2): the proxy's in-process auth table.
        from gateway_site.lib import invalidation
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


class GatewayAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with orgs.admin_site.GatewayAdminSite as `admin.site`."""

    default = False
    default_site = "orgs.admin_site.GatewayAdminSite"
