"""manage.py gateway_secret ORG/WS NAME [--base-url URL] < value

The value is read from stdin only, never from argv (argv shows up in `ps` and shell history).
From a terminal it is prompted for without echo.
"""

from __future__ import annotations

import getpass
import sys
from typing import Any

from django.core.management.base import CommandError, CommandParser

from orgs import services as org_services
from orgs.cli import GatewayCommand
from secrets_vault import services
from secrets_vault.models import ProviderSecret


class Command(GatewayCommand):
    help = (
        "Set a workspace's provider secret (ANTHROPIC_API_KEY, OPENAI_API_KEY, GOOGLE_API_KEY) "
        "from stdin. With --base-url and empty stdin, only the base URL of an existing secret "
        "changes."
    )
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("workspace", metavar="ORG/WS")
        parser.add_argument("name", metavar="NAME", choices=ProviderSecret.Name.values)
        parser.add_argument(
            "--base-url", default=None, help="upstream origin override ('' clears it)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        ws = org_services.workspace_get_by_path(options["workspace"])
        value = self._read_value(options.get("stdin") or sys.stdin)
        if not value and options["base_url"] is None:
            raise CommandError("no secret value on stdin (pipe it in: ... < file or printf %s ...)")
        secret = services.secret_set(
            workspace=ws,
            name=options["name"],
            value=value or None,
            base_url=options["base_url"],
        )
        base = f" base_url={secret.base_url}" if secret.base_url else ""
        self.stdout.write(f"{ws}: {secret.name} set (…{secret.last4}){base}")

    def _read_value(self, stream: Any) -> str:
        if hasattr(stream, "isatty") and stream.isatty():
            return getpass.getpass("secret value (not echoed): ").strip()
        return stream.read().strip()
