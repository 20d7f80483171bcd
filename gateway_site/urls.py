"""Django's routes: the admin (the product UI), sign-in and the member's page, and the
management API. The proxy routes are not here: they are a separate ASGI app mounted in
gateway_site/asgi.py."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    path("", include("accounts.urls")),  # "/", /accounts/..., /admin/account/...
    path("admin/rollout/", include("rollout.urls")),  # before the admin's catch-all
    path("admin/policies/effective/", include("policies.urls")),
    path("admin/overview/", include("overview.urls")),
    # "Forgotten your password?" on the sign-in page: Django's password reset, admin-styled.
    path(
        "admin/password_reset/",
        auth_views.PasswordResetView.as_view(extra_context={"site_header": admin.site.site_header}),
        name="admin_password_reset",
    ),
    path(
        "admin/password_reset/done/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "admin/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "admin/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
]
