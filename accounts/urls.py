"""Sign-in and the member's own page. Mounted at the root in gateway_site/urls.py, before the
admin's catch-all; the member's pages are wrapped in the admin site's `admin_view` (signed in,
admin access derived from roles)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from accounts import oidc, views

app_name = "accounts"

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "accounts/invitation/<uidb64>/<token>/", views.InvitationView.as_view(), name="invitation"
    ),
    path("accounts/sso/", views.sso_by_email, name="sso"),
    path("accounts/sso/callback/", oidc.SsoCallbackView.as_view(), name="oidc-callback"),
    path("accounts/sso/<slug:slug>/", oidc.SsoStartView.as_view(), name="sso-start"),
    path("admin/account/", admin.site.admin_view(views.member_page), name="me"),
    path(
        "admin/account/tokens/new/",
        admin.site.admin_view(views.token_create),
        name="token-create",
    ),
    path(
        "admin/account/tokens/<int:token_id>/revoke/",
        admin.site.admin_view(views.token_revoke),
        name="token-revoke",
    ),
]
