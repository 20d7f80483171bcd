"""Named routes of a workspace: an ordered chain of PROVIDER/MODEL candidates, tried in turn.

A unified endpoint called with model `route/NAME` (or a model name matching one of the route's
aliases, e.g. `claude-haiku-*`) calls the first candidate; when it fails before answering
(a connection error, a timeout, 429 or 5xx: `fallback_on`), the next one is called. Never after
the first byte of an answer has reached the client.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from orgs.models import Workspace

# The model prefixes a candidate may name (google/ is gemini/; custom/NAME/MODEL a custom provider).
PROVIDER_PREFIXES = (
    "openai",
    "anthropic",
    "gemini",
    "google",
    "azure",
    "bedrock",
    "vertex",
    "custom",
)
# When to try the next candidate: 429, any 5xx, a timeout, a connection failure.
FALLBACK_ON = ("429", "5xx", "timeout", "connect")
NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"


def default_fallback_on() -> list[str]:
    return list(FALLBACK_ON)


class ModelRoute(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="model_routes")
    name = models.CharField(
        max_length=100,
        validators=[RegexValidator(NAME_RE, "letters, digits, '.', '_' or '-'")],
        help_text="Called as model route/NAME on the unified endpoints.",
    )
    # [{"model": "openai/gpt-4o-mini", "params": {"temperature": 0.2}}, ...] in order.
    chain = models.JSONField(default=list)
    fallback_on = models.JSONField(default=default_fallback_on)
    # Model-name patterns (fnmatch: * and ?) that mean this route on the unified endpoints.
    aliases = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ("workspace", "name")
        constraints = [
            models.UniqueConstraint(fields=("workspace", "name"), name="model_route_unique_name")
        ]

    def __str__(self) -> str:
        return f"route/{self.name}"

    @property
    def chain_display(self) -> str:
        return " → ".join(str(c.get("model")) for c in self.chain)
