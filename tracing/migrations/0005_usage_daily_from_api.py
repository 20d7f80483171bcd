"""The per-day usage totals move from the api app to tracing, next to the usage rows they
aggregate. The rows stay: the models are first taken over as they are (state only, same
tables), then the tables are renamed to tracing's names."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tracing", "0004_runs_filter_covering_indexes"),
        ("api", "0002_usagerecord_summary_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="UsageRollupState",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("rolled_through", models.DateField(null=True)),
                        ("refreshed_at", models.DateTimeField(null=True)),
                    ],
                    options={"db_table": "api_usagerollupstate"},
                ),
                migrations.CreateModel(
                    name="UsageDaily",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("day", models.DateField()),
                        ("organization_id", models.BigIntegerField(null=True)),
                        ("workspace_id", models.BigIntegerField(null=True)),
                        ("key_id", models.BigIntegerField(null=True)),
                        ("user_id", models.BigIntegerField(null=True)),
                        ("model", models.CharField(blank=True, max_length=200)),
                        ("calls", models.BigIntegerField(default=0)),
                        ("input_tokens", models.BigIntegerField(default=0)),
                        ("output_tokens", models.BigIntegerField(default=0)),
                        ("cache_read_tokens", models.BigIntegerField(default=0)),
                        ("cache_write_tokens", models.BigIntegerField(default=0)),
                        ("reasoning_tokens", models.BigIntegerField(default=0)),
                        ("cost_usd", models.DecimalField(decimal_places=10, max_digits=30, null=True)),
                        ("unpriced_calls", models.BigIntegerField(default=0)),
                    ],
                    options={
                        "verbose_name": "daily usage total",
                        "db_table": "api_usagedaily",
                        "indexes": [
                            models.Index(fields=["workspace_id", "day"], name="usagedaily_ws_day"),
                            models.Index(fields=["organization_id", "day"], name="usagedaily_org_day"),
                            models.Index(fields=["day"], name="usagedaily_day"),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name="usagedaily", table=None),
        migrations.AlterModelTable(name="usagerollupstate", table=None),
    ]
