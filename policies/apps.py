from __future__ import annotations

from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "policies"
    verbose_name = "Policies"

    def ready(self) -> None:
        # Signals for cache invalidation only: the proxies' policy snapshots (hotpath.changes).
        from hotpath import changes
        from policies.redaction.models import RedactionPolicy
        from policies.spend.models import SpendPolicy, SpendWindow

        for model in (SpendPolicy, SpendWindow):
            changes.connect_model(model, "spend")
        changes.connect_model(RedactionPolicy, "redaction")
