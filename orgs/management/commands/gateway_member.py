"""manage.py gateway_member EMAIL --workspace ORG/WS --role ROLE [--org-role ROLE]
                            [--invite [--no-email]]

With --invite the member is also invited to sign in: an e-mail through Django's mail backend
and, on stdout, the one-time set-password link (or where to sign in, for a member who has a
password or whose organization uses single sign-on). --no-email only prints it.
"""

from __future__ import annotations

import smtplib
from typing import Any

from django.core.management.base import CommandError, CommandParser

from orgs import services
from orgs.cli import GatewayCommand, role_by_name
from orgs.models import Role


class Command(GatewayCommand):
    help = (
        "Give a user (created if needed, without a password) a role in a workspace, and "
        "optionally an organization role (idempotent); --invite sends the sign-in invitation."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--workspace", required=True, metavar="ORG/WS")
        parser.add_argument("--role", required=True, help="workspace role, e.g. WORKSPACE_ADMIN")
        parser.add_argument("--org-role", help="organization role, e.g. ORGANIZATION_ADMIN")
        parser.add_argument(
            "--invite",
            action="store_true",
            help="e-mail an invitation and print its one-time set-password link",
        )
        parser.add_argument(
            "--no-email", action="store_true", help="with --invite: only print the link"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["no_email"] and not options["invite"]:
            raise CommandError("--no-email goes with --invite")
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
        if options["invite"]:
            self._invite(ws.organization, user, send_email=not options["no_email"])

    def _invite(self, organization: Any, user: Any, *, send_email: bool) -> None:
        try:
            invitation = services.member_invite(
                organization=organization, user=user, send_email=send_email
            )
        except (OSError, smtplib.SMTPException) as exc:
            raise CommandError(
                f"the member was added, but the invitation e-mail could not be sent ({exc}); "
                "print the link with --invite --no-email"
            ) from exc
        if invitation.emailed:
            self.stderr.write(f"invitation e-mailed to {invitation.email}")
        if invitation.link:
            self.stdout.write(f"set-password link (works once): {invitation.link}")
        else:
            self.stdout.write(f"sign in at: {invitation.sign_in_url}")
