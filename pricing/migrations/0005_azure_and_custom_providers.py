"""Price-table providers for Azure OpenAI and custom providers, and the models Azure names its
own way. Azure's global deployments cost what OpenAI's list prices say, under the same model
names (the gateway records the model, not the deployment), so only Azure's own spelling of
GPT-3.5 Turbo is added (USD per 1M tokens, Azure's pricing page read through pages quoting it
on 2026-12-02: verify before billing anyone). Rows are only inserted, never overwritten.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import migrations, models

TAKEN = dt.date(2026, 12, 2)
AZURE_SRC = "https://azure.microsoft.com/pricing/details/cognitive-services/openai-service/"

# (model, input, output, context_window, max_output_tokens)
AZURE = [("gpt-35-turbo", "0.50", "1.50", 16_385, 4_096)]


def seed(apps: Any, schema_editor: Any) -> None:
    ModelPrice = apps.get_model("pricing", "ModelPrice")
    for model, inp, out, window, max_out in AZURE:
        ModelPrice.objects.get_or_create(
            model=model,
            defaults={
                "provider": "azure",
                "input_per_mtok": Decimal(inp),
                "output_per_mtok": Decimal(out),
                "context_window": window,
                "max_output_tokens": max_out,
                "price_date": TAKEN,
                "source_url": AZURE_SRC,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("pricing", "0004_bedrock_provider")]

    operations = [
        migrations.AlterField(
            model_name="modelprice",
            name="provider",
            field=models.CharField(
                choices=[
                    ("openai", "OpenAI"),
                    ("anthropic", "Anthropic"),
                    ("gemini", "Google Gemini"),
                    ("bedrock", "AWS Bedrock"),
                    ("azure", "Azure OpenAI"),
                    ("custom", "Custom provider"),
                ],
                max_length=20,
            ),
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
