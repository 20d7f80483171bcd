from django.apps import AppConfig


class OverviewConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "overview"
    verbose_name = "Gateway overview"
