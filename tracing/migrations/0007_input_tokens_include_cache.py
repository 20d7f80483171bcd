"""input_tokens becomes the total input, cache reads and cache writes included.

Before this migration a stored input_tokens counted only the uncached input (the proxy
subtracted OpenAI's and Gemini's cached tokens, and left Anthropic's cache counts out);
OpenTelemetry's GenAI conventions and LangSmith count every input token, so every stored row
gets its cache reads and writes added back. Cost is unchanged (it was priced per part).

One UPDATE per table, in the migration's transaction: the change is not idempotent (running
half of it twice would count the cache twice), so it is all or nothing. On a large PostgreSQL
table it rewrites every row once; run it in a quiet hour.
"""

from __future__ import annotations

from django.db import migrations
from django.db.models import BigIntegerField, F, Q, Value
from django.db.models.functions import Cast, Least

INT_MAX = 2**31 - 1  # the positive integer columns of runs and usage rows
TABLES = (
    ("tracing", "Run", INT_MAX),
    ("tracing", "UsageRecord", INT_MAX),
    ("tracing", "UsageDaily", None),
)


def _apply(apps, sign: int) -> None:
    for app_label, name, ceiling in TABLES:
        model = apps.get_model(app_label, name)
        # In 64-bit arithmetic: a sum past the 32-bit column is clamped, never an overflow.
        def wide(name):
            return Cast(name, BigIntegerField())

        cached = wide("cache_read_tokens") + wide("cache_write_tokens")
        value = wide("input_tokens") + cached if sign > 0 else wide("input_tokens") - cached
        if ceiling is not None and sign > 0:
            value = Least(value, Value(ceiling, output_field=BigIntegerField()))
        rows = model.objects.filter(Q(cache_read_tokens__gt=0) | Q(cache_write_tokens__gt=0))
        if sign < 0:
            rows = rows.filter(input_tokens__gte=F("cache_read_tokens") + F("cache_write_tokens"))
        rows.update(input_tokens=value)


def forwards(apps, schema_editor):
    _apply(apps, +1)


def backwards(apps, schema_editor):
    _apply(apps, -1)


class Migration(migrations.Migration):
    dependencies = [("tracing", "0006_usage_audio_and_estimates")]

    operations = [migrations.RunPython(forwards, backwards)]
