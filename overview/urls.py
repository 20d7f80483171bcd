"""The overview pages, mounted under /admin/overview/ in gateway_site/urls.py (before the
admin's catch-all)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from overview import views

app_name = "overview"

urlpatterns = [
    path("", admin.site.admin_view(views.index_page), name="index"),
    path("<int:org_id>/", admin.site.admin_view(views.organization_page), name="organization"),
]
