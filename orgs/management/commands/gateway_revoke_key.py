"""manage.py gateway_revoke_key KEY_OR_ID"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from orgs import services
from orgs.cli import GatewayCommand


class Command(GatewayCommand):
    help = (
        "Revoke a key given as its full value, its prefix (gw_sk_<lookup id>), its lookup id "
        "or its numeric id (idempotent)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("key", metavar="KEY_OR_ID")

    def handle(self, *args: Any, **options: Any) -> None:
        key = services.api_key_find(options["key"].strip())
        if key is None:
            raise CommandError("no such key")
        already = key.revoked_at is not None
        services.api_key_revoke(api_key=key)
        self.stdout.write(f"{key.display_prefix} {'was already revoked' if already else 'revoked'}")
