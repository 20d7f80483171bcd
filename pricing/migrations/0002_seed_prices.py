"""Seed the public list prices (USD per 1M tokens), taken on 2026-11-27.

Sources: the providers' pricing pages (OpenAI developers.openai.com/api/docs/pricing, Anthropic
platform.claude.com/docs/en/about-claude/pricing, Google ai.google.dev/gemini-api/docs/pricing),
read through the search tool's stored copies of those pages and of pages quoting them, so verify
before billing anyone. Simplifications, stated once here: Anthropic cache writes are priced at the
5-minute rate (1-hour writes cost 2x input); Gemini and OpenAI have no cache-write premium (empty =
input price; Gemini's hourly cache storage fee is not per token); long-context tiers (Gemini Pro
and Claude above 200k input tokens) are priced at the base tier. Rows are only inserted, never
overwritten, so an operator's edits survive re-running migrations.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import migrations

TAKEN = dt.date(2026, 11, 27)
OPENAI_SRC = "https://developers.openai.com/api/docs/pricing"
ANTHROPIC_SRC = "https://platform.claude.com/docs/en/about-claude/pricing"
GEMINI_SRC = "https://ai.google.dev/gemini-api/docs/pricing"

# (model, input, output, cache_read, cache_write, context_window, max_output_tokens)
OPENAI = [
    ("gpt-5.5", "5.00", "30.00", "0.50", None, 1_000_000, 128_000),
    ("gpt-5.5-pro", "30.00", "180.00", None, None, 1_000_000, 128_000),
    ("gpt-5.4", "2.50", "15.00", "0.25", None, 1_000_000, 128_000),
    ("gpt-5.4-mini", "0.75", "4.50", "0.075", None, 1_000_000, 128_000),
    ("gpt-5.4-nano", "0.20", "1.25", "0.02", None, 1_000_000, 128_000),
    ("gpt-5.4-pro", "30.00", "180.00", None, None, 1_000_000, 128_000),
    ("gpt-5.1", "1.25", "10.00", "0.125", None, 400_000, 128_000),
    ("gpt-5-codex", "1.25", "10.00", "0.125", None, 400_000, 128_000),
    ("gpt-5", "1.25", "10.00", "0.125", None, 400_000, 128_000),
    ("gpt-5-mini", "0.25", "2.00", "0.025", None, 400_000, 128_000),
    ("gpt-5-nano", "0.05", "0.40", "0.005", None, 400_000, 128_000),
    ("gpt-5-pro", "15.00", "120.00", None, None, 400_000, 128_000),
    ("gpt-4.1", "2.00", "8.00", "0.50", None, 1_047_576, 32_768),
    ("gpt-4.1-mini", "0.40", "1.60", "0.10", None, 1_047_576, 32_768),
    ("gpt-4.1-nano", "0.10", "0.40", "0.025", None, 1_047_576, 32_768),
    ("gpt-4o", "2.50", "10.00", "1.25", None, 128_000, 16_384),
    ("gpt-4o-mini", "0.15", "0.60", "0.075", None, 128_000, 16_384),
    ("o3", "2.00", "8.00", "0.50", None, 200_000, 100_000),
    ("o3-mini", "1.10", "4.40", "0.55", None, 200_000, 100_000),
    ("o4-mini", "1.10", "4.40", "0.275", None, 200_000, 100_000),
    ("text-embedding-3-small", "0.02", "0", None, None, 8_191, None),
    ("text-embedding-3-large", "0.13", "0", None, None, 8_191, None),
]
ANTHROPIC = [
    ("claude-opus-4-8", "5.00", "25.00", "0.50", "6.25", 1_000_000, 128_000),
    ("claude-opus-4-7", "5.00", "25.00", "0.50", "6.25", 1_000_000, 128_000),
    ("claude-opus-4-6", "5.00", "25.00", "0.50", "6.25", 1_000_000, 128_000),
    ("claude-opus-4-5", "5.00", "25.00", "0.50", "6.25", 200_000, 64_000),
    ("claude-opus-4-1", "15.00", "75.00", "1.50", "18.75", 200_000, 32_000),
    ("claude-opus-4-0", "15.00", "75.00", "1.50", "18.75", 200_000, 32_000),
    ("claude-sonnet-4-6", "3.00", "15.00", "0.30", "3.75", 1_000_000, 64_000),
    ("claude-sonnet-4-5", "3.00", "15.00", "0.30", "3.75", 1_000_000, 64_000),
    ("claude-sonnet-4-0", "3.00", "15.00", "0.30", "3.75", 1_000_000, 64_000),
    ("claude-3-7-sonnet", "3.00", "15.00", "0.30", "3.75", 200_000, 64_000),
    ("claude-haiku-4-5", "1.00", "5.00", "0.10", "1.25", 200_000, 64_000),
    ("claude-3-5-haiku", "0.80", "4.00", "0.08", "1.00", 200_000, 8_192),
    ("claude-3-haiku", "0.25", "1.25", "0.03", "0.30", 200_000, 4_096),
]
# Dated ids the Anthropic API answers with (priced like their alias).
ANTHROPIC_ALIASES = {
    "claude-opus-4-1-20250805": "claude-opus-4-1",
    "claude-opus-4-20250514": "claude-opus-4-0",
    "claude-sonnet-4-20250514": "claude-sonnet-4-0",
    "claude-3-7-sonnet-latest": "claude-3-7-sonnet",
}
GEMINI = [
    ("gemini-3.5-flash", "1.50", "9.00", "0.15", None, 1_048_576, 65_536),
    ("gemini-3.1-pro", "2.00", "12.00", "0.20", None, 1_048_576, 65_536),
    ("gemini-3.1-pro-preview", "2.00", "12.00", "0.20", None, 1_048_576, 65_536),
    ("gemini-3.1-flash-lite", "0.25", "1.50", "0.025", None, 1_048_576, 65_536),
    ("gemini-3-pro-preview", "2.00", "12.00", "0.20", None, 1_048_576, 65_536),
    ("gemini-3-flash", "0.50", "3.00", "0.05", None, 1_048_576, 65_536),
    ("gemini-3-flash-preview", "0.50", "3.00", "0.05", None, 1_048_576, 65_536),
    ("gemini-2.5-pro", "1.25", "10.00", "0.125", None, 1_048_576, 65_536),
    ("gemini-2.5-flash", "0.30", "2.50", "0.03", None, 1_048_576, 65_536),
    ("gemini-2.5-flash-lite", "0.10", "0.40", "0.01", None, 1_048_576, 65_536),
    ("gemini-2.0-flash", "0.10", "0.40", "0.025", None, 1_048_576, 8_192),
]


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def seed(apps: Any, schema_editor: Any) -> None:
    ModelPrice = apps.get_model("pricing", "ModelPrice")
    rows = [("openai", OPENAI_SRC, r) for r in OPENAI]
    rows += [("anthropic", ANTHROPIC_SRC, r) for r in ANTHROPIC]
    by_name = {r[0]: r for r in ANTHROPIC}
    rows += [("anthropic", ANTHROPIC_SRC, (alias, *by_name[base][1:])) for alias, base in ANTHROPIC_ALIASES.items()]
    rows += [("gemini", GEMINI_SRC, r) for r in GEMINI]
    for provider, source, (model, inp, out, cread, cwrite, ctx, max_out) in rows:
        ModelPrice.objects.get_or_create(
            model=model,
            defaults={
                "provider": provider,
                "input_per_mtok": Decimal(inp),
                "output_per_mtok": Decimal(out),
                "cache_read_per_mtok": _dec(cread),
                "cache_write_per_mtok": _dec(cwrite),
                "context_window": ctx,
                "max_output_tokens": max_out,
                "price_date": TAKEN,
                "source_url": source,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("pricing", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
