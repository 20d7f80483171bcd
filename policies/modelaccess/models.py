"""Model access: which models of which provider a subject's calls may use.

A `ModelAccessPolicy` applies to one tier — the organization, a workspace, a user (their
personal tokens and the keys assigned to them) or an API key — and lists, per provider, either
every model (`*`) or the model patterns allowed (`gpt-4.1*`, `claude-*-haiku-*`: shell-style,
as Python's fnmatch). A provider the policy does not list is not allowed by it.

For a call, the most specific tier that has an enabled policy decides (key, then user, then
workspace, then organization); when that tier has several, a model must be allowed by each
(they intersect). Broader tiers are not consulted: a key's policy may open what its workspace's
closes, as an override.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from policies.subjects import PolicySubject


class Provider(models.TextChoices):
    OPENAI = "openai", "OpenAI"
    ANTHROPIC = "anthropic", "Anthropic"
    GEMINI = "gemini", "Google Gemini"
    BEDROCK = "bedrock", "AWS Bedrock"
    VERTEX = "vertex", "Google Vertex AI"
    AZURE = "azure", "Azure OpenAI"
    # A workspace's custom providers: patterns name NAME/MODEL (vllm/*, */llama-3*).
    CUSTOM = "custom", "Custom providers (NAME/MODEL)"


ALL_MODELS = "*"


class ModelAccessPolicy(PolicySubject):
    name = models.CharField(max_length=200)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("organization__slug", "name")
        verbose_name = "model access policy"
        verbose_name_plural = "model access"
        constraints = [
            models.UniqueConstraint(
                fields=("organization", "name"), name="modelaccess_policy_unique_name"
            )
        ]

    def __str__(self) -> str:
        return self.name


class ModelAccessRule(models.Model):
    """The models of one provider a policy allows: "*" or comma-separated patterns."""

    policy = models.ForeignKey(ModelAccessPolicy, on_delete=models.CASCADE, related_name="rules")
    provider = models.CharField(max_length=20, choices=Provider.choices)
    models = models.TextField(
        help_text="* for every model of the provider, or comma-separated patterns (gpt-4.1*)."
    )

    class Meta:
        ordering = ("policy", "provider")
        constraints = [
            models.UniqueConstraint(fields=("policy", "provider"), name="modelaccess_rule_unique")
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()}: {self.models}"

    @property
    def patterns(self) -> list[str]:
        return split_patterns(self.models)


def split_patterns(text: str) -> list[str]:
    """The patterns of a comma- (or newline-) separated list, blanks dropped."""
    return [p.strip() for p in text.replace("\n", ",").split(",") if p.strip()]
