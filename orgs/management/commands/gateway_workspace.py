"""manage.py gateway_workspace ORG/WS [--name N]"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from orgs import services
from orgs.cli import GatewayCommand, organization_get


class Command(GatewayCommand):
    help = "Create or update a workspace ORG/WS (idempotent). The organization must exist."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", metavar="ORG/WS")
        parser.add_argument("--name")

    def handle(self, *args: Any, **options: Any) -> None:
        org_slug, sep, ws_slug = options["path"].partition("/")
        if not sep or not org_slug or not ws_slug or "/" in ws_slug:
            raise CommandError(f"workspace must be ORG/WS, not {options['path']!r}")
        org = organization_get(org_slug)
        ws = services.workspace_upsert(organization=org, slug=ws_slug, name=options["name"])
        self.stdout.write(f"{ws}: name={ws.name!r}")
