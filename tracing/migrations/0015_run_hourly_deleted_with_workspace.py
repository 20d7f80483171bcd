"""Hourly run totals are deleted with their workspace (as its projects and runs are): the
column workspace_id stays as it is (no constraint, no index of its own), Django's state names it
a foreign key with on_delete=CASCADE. The totals of workspaces deleted before are deleted now."""

import django.db.models.deletion
from django.db import migrations, models


def orphans_delete(apps, schema_editor):
    schema_editor.execute(
        "DELETE FROM tracing_runhourly WHERE workspace_id NOT IN (SELECT id FROM orgs_workspace)"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("orgs", "0003_key_proxies"),
        ("tracing", "0014_ingest_slimmer_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(model_name="runhourly", name="workspace_id"),
                migrations.AddField(
                    model_name="runhourly",
                    name="workspace",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="orgs.workspace",
                    ),
                    preserve_default=False,
                ),
            ],
            database_operations=[
                migrations.RunPython(orphans_delete, migrations.RunPython.noop, elidable=True)
            ],
        )
    ]
