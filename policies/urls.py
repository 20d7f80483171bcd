"""The policies' own admin pages, mounted under /admin/policies/effective/ in
gateway_site/urls.py (before the admin's catch-all)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from policies import views

app_name = "policies"

urlpatterns = [
    path("", admin.site.admin_view(views.effective_page), name="effective"),
]
