from __future__ import annotations

from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "policies"
    verbose_name = "Policies"

    def ready(self) -> None:
        # Signals for cache invalidation only: the proxies' policy snapshots (hotpath.changes).
        from hotpath import changes
        from policies.modelaccess.models import ModelAccessPolicy, ModelAccessRule
        from policies.ratelimit.models import RateLimit, RateLimitPolicy
        from policies.redaction.models import RedactionPolicy
        from policies.spend.models import SpendPolicy, SpendWindow

        for model in (SpendPolicy, SpendWindow):
            changes.connect_model(model, "spend")
        changes.connect_model(RedactionPolicy, "redaction")
        for model in (RateLimitPolicy, RateLimit):
            changes.connect_model(model, "ratelimit")
        for model in (ModelAccessPolicy, ModelAccessRule):
            changes.connect_model(model, "modelaccess")

    def rotate_secrets(self) -> dict[str, int]:
        """Called by `manage.py gateway_rotate_secrets`: budget alert webhook secrets and Slack
        webhook URLs."""
        from policies.spend.services import alert_secrets_rotate

        return {"budget alert channel secret(s)": alert_secrets_rotate()}
