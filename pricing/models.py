"""The model price table: USD per 1M tokens per token type, editable in the admin."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class ModelPrice(models.Model):
    """The public price of one model, as taken from the provider's pricing page on `price_date`.

    A model missing from this table is still served by the proxy; its calls carry cost `null` and
    `price_missing`, never a silent 0. Dated snapshots (`gpt-4o-2024-08-06`,
    `claude-sonnet-4-5-20250929`, `gemini-2.5-flash-001`) find their base row; see
    pricing.table.PriceTable.get. Models reached through a cloud are priced under the name their
    provider module gives (proxy.providers.price_name): Claude on Bedrock or Vertex as the
    Anthropic model, Gemini on Vertex as the Gemini model; Bedrock's own models by their id.
    """

    class Provider(models.TextChoices):
        OPENAI = "openai", "OpenAI"
        ANTHROPIC = "anthropic", "Anthropic"
        GEMINI = "gemini", "Google Gemini"
        BEDROCK = "bedrock", "AWS Bedrock"
        AZURE = "azure", "Azure OpenAI"
        CUSTOM = "custom", "Custom provider"

    provider = models.CharField(max_length=20, choices=Provider.choices)
    model = models.CharField(
        max_length=200, unique=True, help_text="Bare model name as sent by clients."
    )
    input_per_mtok = models.DecimalField("input $/1M", max_digits=12, decimal_places=6)
    output_per_mtok = models.DecimalField("output $/1M", max_digits=12, decimal_places=6)
    cache_read_per_mtok = models.DecimalField(
        "cache read $/1M",
        max_digits=12,
        decimal_places=6,
        null=True,
        blank=True,
        help_text="Empty: cache reads are billed at the input price.",
    )
    cache_write_per_mtok = models.DecimalField(
        "cache write $/1M",
        max_digits=12,
        decimal_places=6,
        null=True,
        blank=True,
        help_text="Empty: cache writes are billed at the input price.",
    )
    max_output_tokens = models.PositiveIntegerField(null=True, blank=True)
    context_window = models.PositiveIntegerField(null=True, blank=True)
    price_date = models.DateField(help_text="When the price was taken from the provider.")
    source_url = models.URLField(max_length=500, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("provider", "model")
        verbose_name = "model price"

    def __str__(self) -> str:
        return f"{self.model} ({self.provider})"
