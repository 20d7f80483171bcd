"""Provider secrets per workspace: ciphertext only."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from orgs.models import Workspace


class ProviderSecretQuerySet(models.QuerySet["ProviderSecret"]):
    def for_workspace(self, workspace: Workspace) -> ProviderSecretQuerySet:
        return self.filter(workspace=workspace)


class ProviderSecret(models.Model):
    """One provider key of one workspace, encrypted with Fernet (secrets_vault.crypto).

    `ciphertext` is the only form of the value in the database; `last4` is what interfaces show.
    `base_url` optionally overrides the provider's upstream origin for this workspace (an Azure-style
    or regional endpoint, an egress proxy, the built-in fake provider); see services.secret_set
    for the SSRF guard.
    """

    class Name(models.TextChoices):
        ANTHROPIC = "ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY (Anthropic)"
        OPENAI = "OPENAI_API_KEY", "OPENAI_API_KEY (OpenAI)"
        GOOGLE = "GOOGLE_API_KEY", "GOOGLE_API_KEY (Google Gemini)"
        BEDROCK_TOKEN = "AWS_BEARER_TOKEN_BEDROCK", "AWS_BEARER_TOKEN_BEDROCK (AWS Bedrock API key)"
        AWS_ACCESS_KEY_ID = "AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID (AWS Bedrock, signed)"
        AWS_SECRET_ACCESS_KEY = (
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SECRET_ACCESS_KEY (AWS Bedrock, signed)",
        )
        AWS_SESSION_TOKEN = "AWS_SESSION_TOKEN", "AWS_SESSION_TOKEN (AWS Bedrock, optional)"
        AWS_REGION = "AWS_REGION", "AWS_REGION (AWS Bedrock region, e.g. us-east-1)"
        VERTEX_SERVICE_ACCOUNT = (
            "VERTEX_SERVICE_ACCOUNT_JSON",
            "VERTEX_SERVICE_ACCOUNT_JSON (Google Vertex AI service account key file)",
        )
        VERTEX_LOCATION = (
            "VERTEX_LOCATION",
            "VERTEX_LOCATION (Google Vertex AI location of the unified endpoints' calls, "
            "default global)",
        )
        AZURE_OPENAI_API_KEY = (
            "AZURE_OPENAI_API_KEY",
            "AZURE_OPENAI_API_KEY (Azure OpenAI; base URL: the resource's endpoint)",
        )
        AZURE_OPENAI_API_VERSION = (
            "AZURE_OPENAI_API_VERSION",
            "AZURE_OPENAI_API_VERSION (Azure OpenAI api-version, e.g. 2024-10-21)",
        )
        AZURE_OPENAI_DEPLOYMENTS = (
            "AZURE_OPENAI_DEPLOYMENTS",
            "AZURE_OPENAI_DEPLOYMENTS (Azure OpenAI model=deployment,…)",
        )

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="provider_secrets"
    )
    name = models.CharField(max_length=40, choices=Name.choices)
    ciphertext = models.TextField(editable=False)
    last4 = models.CharField(max_length=4, editable=False)
    base_url = models.URLField(max_length=500, blank=True)
    set_at = models.DateTimeField(default=timezone.now, editable=False)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = ProviderSecretQuerySet.as_manager()

    class Meta:
        ordering = ("workspace", "name")
        constraints = [
            models.UniqueConstraint(
                fields=("workspace", "name"), name="provider_secret_unique_name"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} (…{self.last4})"


# Which secret each proxy dialect needs.
PROVIDER_SECRET_NAMES: dict[str, str] = {
    "openai": ProviderSecret.Name.OPENAI,
    "anthropic": ProviderSecret.Name.ANTHROPIC,
    "gemini": ProviderSecret.Name.GOOGLE,
}


class CustomProvider(models.Model):
    """A workspace's own OpenAI-compatible server (vLLM, Ollama, TGI, LM Studio, another
    gateway), reached natively under /providers/NAME/v1/...

    `base_url` is the URL a client would give the OpenAI SDK (with its /v1), SSRF-guarded like
    every base URL (services.base_url_check). The optional secret is stored like a provider
    secret (`ciphertext`, `last4`) and sent as `Authorization: Bearer`; `extra_headers` go
    upstream on every call; a non-empty `model_names` list is the only models callers may name.
    """

    class Api(models.TextChoices):
        OPENAI = "openai", "OpenAI Chat Completions"

    NAME_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$"

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="custom_providers"
    )
    name = models.CharField(
        max_length=40,
        help_text="Lowercase letters, digits and '-': the NAME in /providers/NAME/v1.",
    )
    api = models.CharField(max_length=20, choices=Api.choices, default=Api.OPENAI)
    base_url = models.URLField(max_length=500)
    ciphertext = models.TextField(blank=True, editable=False)
    last4 = models.CharField(max_length=4, blank=True, editable=False)
    extra_headers = models.JSONField(default=dict, blank=True)
    model_names = models.JSONField(default=list, blank=True)
    set_at = models.DateTimeField(default=timezone.now, editable=False)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ("workspace", "name")
        constraints = [
            models.UniqueConstraint(
                fields=("workspace", "name"), name="custom_provider_unique_name"
            )
        ]

    def __str__(self) -> str:
        return f"custom provider {self.name}"

    @property
    def has_secret(self) -> bool:
        return bool(self.ciphertext)
