"""manage.py gateway_org SLUG [--name N] [--plan basic|enterprise] [--enable-gateway|--disable-gateway]"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from orgs import services
from orgs.cli import GatewayCommand
from orgs.models import Organization


class Command(GatewayCommand):
    help = "Create or update an organization (idempotent). Run as the platform operator."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name")
        parser.add_argument("--plan", choices=Organization.Plan.values)
        flag = parser.add_mutually_exclusive_group()
        flag.add_argument("--enable-gateway", dest="gateway", action="store_const", const=True)
        flag.add_argument("--disable-gateway", dest="gateway", action="store_const", const=False)

    def handle(self, *args: Any, **options: Any) -> None:
        org = services.organization_upsert(
            slug=options["slug"],
            name=options["name"],
            plan=options["plan"],
            llm_gateway_enabled=options["gateway"],
        )
        state = "enabled" if org.llm_gateway_enabled else "disabled"
        self.stdout.write(f"{org.slug}: name={org.name!r} plan={org.plan} gateway={state}")
