"""UsageDaily and UsageRollupState now belong to tracing (its migration 0005 takes the tables
over with their rows); here they leave the api app's state only."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0002_usagerecord_summary_index"),
        ("tracing", "0005_usage_daily_from_api"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="UsageDaily"),
                migrations.DeleteModel(name="UsageRollupState"),
            ],
            database_operations=[],
        ),
    ]
