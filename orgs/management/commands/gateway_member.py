"""manage.py gateway_member EMAIL --workspace ORG/WS --role ROLE [--org-role ROLE]"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from gateway_site.lib.cli import GatewayCommand
from orgs import services
from orgs.cli import role_by_name
from orgs.models import Role


class Command(GatewayCommand):
    help = (
        "Give a user (created if needed, without a password) a role in a workspace, and "
        "optionally an organization role (idempotent)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--workspace", required=True, metavar="ORG/WS")
        parser.add_argument("--role", required=True, help="workspace role, e.g. WORKSPACE_ADMIN")
        parser.add_argument("--org-role", help="organization role, e.g. ORGANIZATION_ADMIN")

    def handle(self, *args: Any, **options: Any) -> None:
        ws = services.workspace_get_by_path(options["workspace"])
        role = role_by_name(ws.organization, options["role"], Role.Scope.WORKSPACE)
        org_role = None
        if options["org_role"]:
            org_role = role_by_name(ws.organization, options["org_role"], Role.Scope.ORGANIZATION)
        user = services.user_get_or_create(email=options["email"])
        member = services.member_set(workspace=ws, user=user, role=role, org_role=org_role)
        org_member = user.org_memberships.get(organization=ws.organization)
        self.stdout.write(
            f"{user.get_username()}: {member.role.name} in {ws}, {org_member.role.name} in "
            f"{ws.organization.slug}"
        )
