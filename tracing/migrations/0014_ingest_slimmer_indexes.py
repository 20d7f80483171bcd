"""Fewer index inserts per ingested call (each costs PostgreSQL about 2 us of CPU per run).

Runs: the indexes of a filter on status, policy outcome, customer and user hold only the runs
off the common value (not a success, some policy applied, a customer named, an assigned user);
a filter on the common value reads the workspace index.

Usage rows (PostgreSQL only, besides the model's indexes):
- the idempotency key UNIQUE (run_id, started_at) becomes UNIQUE (started_at, run_id): the same
  rows are unique, but an insert lands at the index's newest end instead of a random page of a
  month of rows, and the key serves the time-range reads that had an index of their own on
  started_at (dropped);
- usage_ws_start (workspace, started_at) becomes the covering index of usage summaries, which
  api 0002/0004 kept as a second index on the same columns (usage_ws_start_summary, dropped);
- usage_org_start loses its INCLUDE (the overview's hourly chart reads the hourly run totals).

Every index here is rebuilt on an existing database, in the migration's transaction: writes to
the runs and usage tables wait meanwhile (see docs/operations.md, "Upgrading").
"""

from django.conf import settings
from django.db import migrations, models


SUMMARY = "usage_ws_start_summary"
SUMMARY_COLUMNS = (
    "organization_id, key_id, user_id, model, cost_usd, input_tokens, output_tokens, "
    "cache_read_tokens, cache_write_tokens, reasoning_tokens, audio_input_tokens, "
    "audio_output_tokens"
)
USAGE = "tracing_usagerecord"
UNIQUE = "tracing_usagerecord_run_id_key"


def _started_at_indexes(schema_editor):
    with schema_editor.connection.cursor() as cursor:
        constraints = schema_editor.connection.introspection.get_constraints(cursor, USAGE)
    return sorted(
        name
        for name, info in constraints.items()
        if info["index"]
        and info["columns"] == ["started_at"]
        and not info["unique"]
        and not info["primary_key"]
    )


def usage_keys_forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    execute = schema_editor.execute
    execute(f"DROP INDEX IF EXISTS {SUMMARY}")
    for name in _started_at_indexes(schema_editor):
        execute(f'DROP INDEX "{name}"')
    execute(f"ALTER TABLE {USAGE} DROP CONSTRAINT IF EXISTS {UNIQUE}")
    execute(f"ALTER TABLE {USAGE} ADD CONSTRAINT {UNIQUE} UNIQUE (started_at, run_id)")


def usage_keys_backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    execute = schema_editor.execute
    execute(f"ALTER TABLE {USAGE} DROP CONSTRAINT IF EXISTS {UNIQUE}")
    execute(f"ALTER TABLE {USAGE} ADD CONSTRAINT {UNIQUE} UNIQUE (run_id, started_at)")
    if not _started_at_indexes(schema_editor):
        usage = apps.get_model("tracing", "UsageRecord")
        for sql in schema_editor._field_indexes_sql(usage, usage._meta.get_field("started_at")):
            execute(sql)
    execute(
        f"CREATE INDEX IF NOT EXISTS {SUMMARY} ON {USAGE} (workspace_id, started_at) "
        f"INCLUDE ({SUMMARY_COLUMNS})"
    )


class Migration(migrations.Migration):

    dependencies = [
        ('orgs', '0003_key_proxies'),
        ('tracing', '0013_run_trace_id_one_index'),
        ('api', '0004_usage_summary_index_audio'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(usage_keys_forward, usage_keys_backward, elidable=False),
        migrations.RemoveIndex(
            model_name='run',
            name='run_ws_status',
        ),
        migrations.RemoveIndex(
            model_name='run',
            name='run_ws_policy_outcome',
        ),
        migrations.RemoveIndex(
            model_name='run',
            name='run_user_start_totals',
        ),
        migrations.RemoveIndex(
            model_name='run',
            name='run_ws_customer',
        ),
        migrations.RemoveIndex(
            model_name='usagerecord',
            name='usage_ws_start',
        ),
        migrations.RemoveIndex(
            model_name='usagerecord',
            name='usage_user_start',
        ),
        migrations.RemoveIndex(
            model_name='usagerecord',
            name='usage_org_start_status',
        ),
        migrations.RemoveIndex(
            model_name='usagerecord',
            name='usage_ws_customer_start',
        ),
        migrations.AddIndex(
            model_name='run',
            index=models.Index(condition=models.Q(('status', 'success'), _negated=True), fields=['workspace', 'status', '-started_at', '-id'], include=('input_tokens', 'output_tokens', 'cost_usd', 'project'), name='run_ws_status'),
        ),
        migrations.AddIndex(
            model_name='run',
            index=models.Index(condition=models.Q(('policy_outcome', 'none'), _negated=True), fields=['workspace', 'policy_outcome', '-started_at', '-id'], include=('input_tokens', 'output_tokens', 'cost_usd', 'project'), name='run_ws_policy_outcome'),
        ),
        migrations.AddIndex(
            model_name='run',
            index=models.Index(condition=models.Q(('customer', ''), _negated=True), fields=['workspace', 'customer', '-started_at', '-id'], include=('input_tokens', 'output_tokens', 'cost_usd', 'project'), name='run_ws_customer'),
        ),
        migrations.AddIndex(
            model_name='run',
            index=models.Index(condition=models.Q(('user__isnull', False)), fields=['user', '-started_at', '-id'], include=('input_tokens', 'output_tokens', 'cost_usd', 'workspace', 'project'), name='run_user_start_totals'),
        ),
        migrations.AddIndex(
            model_name='usagerecord',
            index=models.Index(fields=['workspace', 'started_at'], include=('organization', 'key', 'user', 'model', 'cost_usd', 'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_write_tokens', 'reasoning_tokens', 'audio_input_tokens', 'audio_output_tokens'), name='usage_ws_start'),
        ),
        migrations.AddIndex(
            model_name='usagerecord',
            index=models.Index(fields=['organization', 'started_at'], name='usage_org_start'),
        ),
        migrations.AddIndex(
            model_name='usagerecord',
            index=models.Index(condition=models.Q(('user__isnull', False)), fields=['user', 'started_at'], name='usage_user_start'),
        ),
        migrations.AddIndex(
            model_name='usagerecord',
            index=models.Index(condition=models.Q(('customer', ''), _negated=True), fields=['workspace', 'customer', 'started_at'], name='usage_ws_customer_start'),
        ),
    ]
