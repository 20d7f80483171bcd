"""The usage summaries' covering index also holds the audio token columns (PostgreSQL only).

Summaries now sum audio input and output tokens too; without them in the index every row of
a summary would cost a heap visit again (see 0002_usagerecord_summary_index)."""

from __future__ import annotations

from django.db import migrations

INDEX = "usage_ws_start_summary"
COLUMNS = (
    "organization_id, key_id, user_id, model, cost_usd, input_tokens, output_tokens, "
    "cache_read_tokens, cache_write_tokens, reasoning_tokens"
)


def _create(schema_editor, columns: str) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")
        schema_editor.execute(
            f"CREATE INDEX {INDEX} ON tracing_usagerecord (workspace_id, started_at) "
            f"INCLUDE ({columns})"
        )


def forwards(apps, schema_editor):
    _create(schema_editor, COLUMNS + ", audio_input_tokens, audio_output_tokens")


def backwards(apps, schema_editor):
    _create(schema_editor, COLUMNS)


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0003_usage_daily_to_tracing"),
        ("tracing", "0006_usage_audio_and_estimates"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
