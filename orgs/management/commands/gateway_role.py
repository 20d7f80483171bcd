"""manage.py gateway_role ORG NAME --permissions p1,p2"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from orgs import services
from orgs.cli import GatewayCommand, organization_get


class Command(GatewayCommand):
    help = (
        "Create or update a custom workspace role (enterprise plan only; built-in roles "
        "cannot be changed)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("org", metavar="ORG")
        parser.add_argument("name", metavar="NAME")
        parser.add_argument(
            "--permissions", required=True, help="comma-separated workspace permissions"
        )
        parser.add_argument("--description", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        org = organization_get(options["org"])
        permissions = [p.strip() for p in options["permissions"].split(",") if p.strip()]
        role = services.role_upsert(
            organization=org,
            name=options["name"],
            permissions=permissions,
            description=options["description"],
        )
        self.stdout.write(f"{org.slug}: role {role.name} = {', '.join(role.permissions)}")
