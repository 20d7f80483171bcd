from django.db import migrations, models
import django.utils.timezone


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="ModelPrice",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("provider", models.CharField(choices=[("openai", "OpenAI"), ("anthropic", "Anthropic"), ("gemini", "Google Gemini")], max_length=20)),
                ("model", models.CharField(help_text="Bare model name as sent by clients.", max_length=200, unique=True)),
                ("input_per_mtok", models.DecimalField(decimal_places=6, max_digits=12, verbose_name="input $/1M")),
                ("output_per_mtok", models.DecimalField(decimal_places=6, max_digits=12, verbose_name="output $/1M")),
                ("cache_read_per_mtok", models.DecimalField(blank=True, decimal_places=6, help_text="Empty: cache reads are billed at the input price.", max_digits=12, null=True, verbose_name="cache read $/1M")),
                ("cache_write_per_mtok", models.DecimalField(blank=True, decimal_places=6, help_text="Empty: cache writes are billed at the input price.", max_digits=12, null=True, verbose_name="cache write $/1M")),
                ("max_output_tokens", models.PositiveIntegerField(blank=True, null=True)),
                ("context_window", models.PositiveIntegerField(blank=True, null=True)),
                ("price_date", models.DateField(help_text="When the price was taken from the provider.")),
                ("source_url", models.URLField(blank=True, max_length=500)),
                ("updated_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={"verbose_name": "model price", "ordering": ("provider", "model")},
        ),
    ]
