from __future__ import annotations

from django.contrib.admin import apps as admin_apps


class GatewayAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with gateway_site.admin_site.GatewayAdminSite as `admin.site`: the
    product UI's shell, whose sections gather the pages of every app."""

    default = False
    default_site = "gateway_site.admin_site.GatewayAdminSite"
