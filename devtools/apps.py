from __future__ import annotations

from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    """For development and tests only: the fake model provider (`manage.py fake_provider`), the
    demo set-up of `make run` (`manage.py gateway_demo`) and the loopback test servers. Nothing
    in the gateway's serving path imports it."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "devtools"
    verbose_name = "Development tools"
