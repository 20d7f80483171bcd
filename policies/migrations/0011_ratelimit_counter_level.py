"""A rate-limit counter row keeps its running level and its oldest entry's time, so a
reservation reads one row per counter instead of summing the log (policies/ratelimit/
store_db.py). Existing rows get them from their entries."""

from django.db import migrations, models

BACKFILL = """
UPDATE policies_ratelimitcounter SET
    level = COALESCE((SELECT SUM(e.amount) FROM policies_ratelimitentry e
                      WHERE e.counter_id = policies_ratelimitcounter.id), 0),
    oldest_ms = (SELECT MIN(e.at_ms) FROM policies_ratelimitentry e
                 WHERE e.counter_id = policies_ratelimitcounter.id)
"""


class Migration(migrations.Migration):
    dependencies = [("policies", "0010_redaction_personal_rules")]

    operations = [
        migrations.AddField(
            model_name="ratelimitcounter",
            name="level",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="ratelimitcounter",
            name="oldest_ms",
            field=models.BigIntegerField(null=True),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]
