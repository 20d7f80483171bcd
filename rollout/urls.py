"""Admin pages of the roll-out app, mounted under /admin/rollout/ in gateway_site/urls.py."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from rollout import views

app_name = "rollout"

urlpatterns = [
    path(
        "agent-config/with-key/",
        admin.site.admin_view(views.agent_config_with_key),
        name="agent-config-with-key",
    ),
    path(
        "agent-config/<int:key_id>/",
        admin.site.admin_view(views.agent_config_page),
        name="agent-config",
    ),
    path(
        "agent-config/<int:key_id>/<str:agent>/",
        admin.site.admin_view(views.agent_config_download),
        name="agent-config-download",
    ),
]
