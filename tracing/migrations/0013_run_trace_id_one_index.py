"""One plain index on Run.trace_id instead of Django's two on PostgreSQL (the btree and a
varchar_pattern_ops one that no query uses): the btree is renamed to run_trace_id, so an existing
database builds nothing; SQLite (plain tables) gets the index made again under the new name."""

from django.db import migrations, models


def _trace_id_indexes(schema_editor):
    with schema_editor.connection.cursor() as cursor:
        constraints = schema_editor.connection.introspection.get_constraints(cursor, "tracing_run")
    return sorted(
        name
        for name, info in constraints.items()
        if info["index"]
        and info["columns"] == ["trace_id"]
        and not info["unique"]
        and not info["primary_key"]
    )


def forward(apps, schema_editor):
    names = _trace_id_indexes(schema_editor)
    keep = next((n for n in names if not n.endswith("_like")), None)
    quote = schema_editor.quote_name
    for name in names:
        if name != keep or schema_editor.connection.vendor != "postgresql":
            schema_editor.execute(f"DROP INDEX IF EXISTS {quote(name)}")
    if keep is not None and schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER INDEX {quote(keep)} RENAME TO run_trace_id")
    else:
        schema_editor.execute("CREATE INDEX run_trace_id ON tracing_run (trace_id)")


def backward(apps, schema_editor):
    schema_editor.execute("DROP INDEX IF EXISTS run_trace_id")
    run = apps.get_model("tracing", "Run")
    field = models.CharField(max_length=64, db_index=True)  # as the field was before
    field.set_attributes_from_name("trace_id")
    field.model = run
    for sql in schema_editor._field_indexes_sql(run, field):
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("tracing", "0012_run_hourly_totals")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="run", name="trace_id", field=models.CharField(max_length=64)
                ),
                migrations.AddIndex(
                    model_name="run",
                    index=models.Index(fields=["trace_id"], name="run_trace_id"),
                ),
            ],
            database_operations=[migrations.RunPython(forward, backward)],
        )
    ]
