"""Seed the Gemini embedding models' list prices (USD per 1M input tokens; embeddings have no
output tokens), taken on 2026-12-02 from Google's pricing page (ai.google.dev/gemini-api/docs/
pricing, read through pages quoting it: verify before billing anyone). Rows are only inserted,
never overwritten, so an operator's edits survive re-running migrations.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import migrations

TAKEN = dt.date(2026, 12, 2)
GEMINI_SRC = "https://ai.google.dev/gemini-api/docs/pricing"

# (model, input, context_window)
EMBEDDINGS = [
    ("gemini-embedding-001", "0.15", 2_048),
    ("gemini-embedding-2-preview", "0.20", 8_192),
]


def seed(apps: Any, schema_editor: Any) -> None:
    ModelPrice = apps.get_model("pricing", "ModelPrice")
    for model, price, window in EMBEDDINGS:
        ModelPrice.objects.get_or_create(
            model=model,
            defaults={
                "provider": "gemini",
                "input_per_mtok": Decimal(price),
                "output_per_mtok": Decimal("0"),
                "context_window": window,
                "max_output_tokens": None,
                "price_date": TAKEN,
                "source_url": GEMINI_SRC,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("pricing", "0002_seed_prices")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
