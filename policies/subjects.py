"""What every policy kind shares: the subject it applies to.

A policy belongs to an organization and applies to one subject of it: the organization itself,
a workspace, an API key or a user (a user's policies cover their personal tokens and the
service keys assigned to them). Spend limits and redaction policies (and the kinds to come)
derive from `PolicySubject`, so the admin, the API and the snapshots read the subject the same
way whatever the kind.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from orgs.models import ApiKey, Organization, Workspace


class PolicyScope(models.TextChoices):
    ORGANIZATION = "organization", "Organization"
    WORKSPACE = "workspace", "Workspace"
    API_KEY = "api_key", "API key"
    USER = "user", "User"


class PolicySubject(models.Model):
    """Abstract: organization, scope and the one subject field the scope names."""

    Scope = PolicyScope

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="%(class)s_set"
    )
    scope = models.CharField(max_length=20, choices=PolicyScope.choices)
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, null=True, blank=True, related_name="%(class)s_set"
    )
    api_key = models.ForeignKey(
        ApiKey, on_delete=models.CASCADE, null=True, blank=True, related_name="%(class)s_set"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="%(class)s_set",
    )

    class Meta:
        abstract = True

    @property
    def subject_label(self) -> str:
        """The subject in words, e.g. "workspace acme/main" or "key gw_sk_abc…"."""
        if self.scope == PolicyScope.WORKSPACE and self.workspace_id:
            return f"workspace {self.workspace}"
        if self.scope == PolicyScope.API_KEY and self.api_key_id:
            return f"key {self.api_key}"
        if self.scope == PolicyScope.USER and self.user_id:
            return f"user {self.user}"
        return f"organization {self.organization}"
