"""PII and secrets redaction policies.

One `RedactionPolicy` per subject: the organization, a workspace, an API key or a user (in the
organization). For a call, the most specific enabled policy wins: API key, then user, then
workspace, then organization (policies.redaction.snapshot.effective_policy). Written only through
policies.redaction.services (validation, audit log, proxy invalidation).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from orgs.models import Organization, Workspace
from policies.redaction.rules import default_rule_ids
from policies.subjects import PolicySubject


def _default_pii_rules() -> list[str]:
    return default_rule_ids("pii")


def _default_secret_rules() -> list[str]:
    return default_rule_ids("secrets")


class RedactionPolicyQuerySet(models.QuerySet["RedactionPolicy"]):
    def for_organization(self, organization: Organization) -> RedactionPolicyQuerySet:
        return self.filter(organization=organization)

    def for_workspace(self, workspace: Workspace) -> RedactionPolicyQuerySet:
        """Policies that can apply to calls in `workspace` (its own and organization-wide)."""
        return self.filter(organization_id=workspace.organization_id).filter(
            models.Q(workspace__isnull=True) | models.Q(workspace=workspace)
        )


class RedactionPolicy(PolicySubject):
    class OnTimeout(models.TextChoices):
        BLOCK = "block", "Block the call (fail closed)"
        ALLOW = "allow", "Allow the call unredacted"

    name = models.CharField(max_length=200)
    enabled = models.BooleanField(default=True)
    pii_enabled = models.BooleanField("PII redaction", default=True)
    pii_rules = models.JSONField(default=_default_pii_rules, blank=True)
    secrets_enabled = models.BooleanField("secrets redaction", default=True)
    secret_rules = models.JSONField(default=_default_secret_rules, blank=True)
    # [{"name": "employee_id", "pattern": "EMP-\\d{6}"}], at most 10, validated on save.
    custom_patterns = models.JSONField(default=list, blank=True)
    scan_system_prompts = models.BooleanField(default=True)
    restore_responses = models.BooleanField(
        default=True, help_text="Put the original values back into responses for the caller."
    )
    timeout_ms = models.PositiveIntegerField("scan time limit (ms)", default=2000)
    on_timeout = models.CharField(
        "on timeout or scanner failure",
        max_length=10,
        choices=OnTimeout.choices,
        default=OnTimeout.BLOCK,
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = RedactionPolicyQuerySet.as_manager()

    class Meta:
        ordering = ("organization__slug", "scope", "name")
        verbose_name = "redaction policy"
        verbose_name_plural = "redaction policies"
        constraints = [
            models.UniqueConstraint(
                fields=("organization",),
                condition=models.Q(scope="organization"),
                name="redaction_one_per_org",
            ),
            models.UniqueConstraint(
                fields=("workspace",),
                condition=models.Q(scope="workspace"),
                name="redaction_one_per_ws",
            ),
            models.UniqueConstraint(
                fields=("api_key",),
                condition=models.Q(scope="api_key"),
                name="redaction_one_per_key",
            ),
            models.UniqueConstraint(
                fields=("organization", "user"),
                condition=models.Q(scope="user"),
                name="redaction_one_per_user",
            ),
        ]

    def __str__(self) -> str:
        return self.name
