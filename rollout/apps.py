from __future__ import annotations

from django.apps import AppConfig


class RolloutConfig(AppConfig):
    """Roll-out tooling: agent config export, gateway verification, the admin download."""

    name = "rollout"
    verbose_name = "Roll-out"
