"""Django's routes: the admin (the product UI) and the management API. The proxy routes are
not here: they are a separate ASGI app mounted in gateway_site/asgi.py."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "LLM Gateway"
admin.site.site_title = "LLM Gateway"
admin.site.index_title = "Administration"

urlpatterns = [
    path("admin/rollout/", include("rollout.urls")),  # before the admin's catch-all
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
]
