from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Sign-in (invitations, password reset, single sign-on per organization) and the member's
    own page (workspaces, roles, personal access tokens, agent configuration)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = "Sign-in"
