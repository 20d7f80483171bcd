"""manage.py gateway_rotate_secrets: re-encrypt every provider secret under the newest key.

Rotation: put a new Fernet key in front of GATEWAY_SECRETS_KEYS (keep the old ones after it),
restart, run this command, then drop the old key.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from gateway_site.lib.cli import GatewayCommand
from secrets_vault import services
from secrets_vault.crypto import SecretUnreadable


class Command(GatewayCommand):
    help = "Re-encrypt every provider secret under the first key of GATEWAY_SECRETS_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            count = services.secrets_rotate()
        except SecretUnreadable as exc:
            raise CommandError(
                f"{exc}; keep every key still in use in GATEWAY_SECRETS_KEYS (newest first)"
            ) from exc
        self.stdout.write(f"re-encrypted {count} provider secret(s) under the newest key")
