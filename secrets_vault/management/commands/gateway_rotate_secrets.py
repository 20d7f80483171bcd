"""manage.py gateway_rotate_secrets: re-encrypt every stored secret under the newest key.

Rotation: put a new Fernet key in front of GATEWAY_SECRETS_KEYS (keep the old ones after it),
restart, run this command, then drop the old key. What is re-encrypted: the provider secrets
and, from every other app whose AppConfig offers `rotate_secrets()` (returning {what: count};
the single sign-on client secrets of accounts), theirs, so this app imports none of them.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import CommandError

from orgs.cli import GatewayCommand
from secrets_vault import services
from secrets_vault.crypto import SecretUnreadable


class Command(GatewayCommand):
    help = "Re-encrypt every stored secret under the first key of GATEWAY_SECRETS_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            count = services.secrets_rotate()
            others: dict[str, int] = {}
            for config in apps.get_app_configs():
                rotate = getattr(config, "rotate_secrets", None)
                if callable(rotate):
                    others.update(rotate())
        except SecretUnreadable as exc:
            raise CommandError(
                f"{exc}; keep every key still in use in GATEWAY_SECRETS_KEYS (newest first)"
            ) from exc
        extra = "".join(f", {n} {name}" for name, n in others.items())
        self.stdout.write(f"re-encrypted {count} provider secret(s){extra} under the newest key")
