from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Sign-in (invitations, password reset, single sign-on per organization) and the member's
    own page (workspaces, roles, personal access tokens, agent configuration)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = "Sign-in"

    def rotate_secrets(self) -> dict[str, int]:
        """Called by `manage.py gateway_rotate_secrets`: re-encrypt the SSO client secrets."""
        from accounts.services import sso_secrets_rotate

        return {"single sign-on client secret(s)": sso_secrets_rotate()}
