"""AWS Bedrock as a price-table provider, and the list prices of Amazon's own Nova models
(USD per 1M tokens, on-demand, taken on 2026-12-02 from the Amazon Bedrock pricing page, read
through pages quoting it: verify before billing anyone). Claude on Bedrock is priced at
Anthropic's rows (proxy.providers.bedrock.price_name); regional endpoints' premium over the
global ones is not modelled. Rows are only inserted, never overwritten.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import migrations, models

TAKEN = dt.date(2026, 12, 2)
BEDROCK_SRC = "https://aws.amazon.com/bedrock/pricing/"

# (model, input, output, context_window, max_output_tokens)
NOVA = [
    ("amazon.nova-micro-v1:0", "0.035", "0.14", 128_000, 10_000),
    ("amazon.nova-lite-v1:0", "0.06", "0.24", 300_000, 10_000),
    ("amazon.nova-pro-v1:0", "0.80", "3.20", 300_000, 10_000),
    ("amazon.nova-premier-v1:0", "2.50", "12.50", 1_000_000, 32_000),
]


def seed(apps: Any, schema_editor: Any) -> None:
    ModelPrice = apps.get_model("pricing", "ModelPrice")
    for model, inp, out, window, max_out in NOVA:
        ModelPrice.objects.get_or_create(
            model=model,
            defaults={
                "provider": "bedrock",
                "input_per_mtok": Decimal(inp),
                "output_per_mtok": Decimal(out),
                "context_window": window,
                "max_output_tokens": max_out,
                "price_date": TAKEN,
                "source_url": BEDROCK_SRC,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("pricing", "0003_gemini_embedding_prices")]
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
                ],
                max_length=20,
            ),
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
