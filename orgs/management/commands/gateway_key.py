"""manage.py gateway_key: issue a gateway key. Only the key goes to stdout (for scripts:
`KEY=$(manage.py gateway_key ...)`); the details go to stderr.

    gateway_key --workspace ORG/WS --role ROLE [--user EMAIL] [--name N]
                [--expires-days N | --expires-at ISO8601]
    gateway_key --personal --user EMAIL --workspace ORG/WS
    gateway_key --org ORG --role ROLE
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from orgs import services
from orgs.cli import GatewayCommand, organization_get, role_by_name
from orgs.models import ApiKey, Role


class Command(GatewayCommand):
    help = "Create a service key or personal access token; prints only the key on stdout."

    def add_arguments(self, parser: CommandParser) -> None:
        scope = parser.add_mutually_exclusive_group(required=True)
        scope.add_argument("--workspace", metavar="ORG/WS", help="workspace-scoped key")
        scope.add_argument("--org", metavar="ORG", help="organization-scoped service key")
        parser.add_argument("--personal", action="store_true", help="a personal access token")
        parser.add_argument("--role", help="role of a service key")
        parser.add_argument(
            "--user", metavar="EMAIL", help="assignee (service) or owner (personal)"
        )
        parser.add_argument("--name", default="")
        expiry = parser.add_mutually_exclusive_group()
        expiry.add_argument("--expires-days", type=int, metavar="N")
        expiry.add_argument("--expires-at", metavar="ISO8601")

    def handle(self, *args: Any, **options: Any) -> None:
        expires_at = self._expiry(options)
        user = self._user(options["user"])
        if options["personal"]:
            created = self._personal(options, user, expires_at)
        else:
            created = self._service(options, user, expires_at)
        key = created.api_key
        self.stderr.write(
            f"created {key.get_kind_display().lower()} {key.display_prefix}"
            f" in {key.workspace or key.organization.slug}"
            f" role={key.role.name if key.role else '(user role)'}"
            f" user={key.user.get_username() if key.user else '-'}"
            f" expires={key.expires_at.isoformat() if key.expires_at else 'never'}"
            " (shown once; store it now)"
        )
        self.stdout.write(created.plaintext)

    def _service(self, options: dict[str, Any], user: Any, expires_at: dt.datetime | None) -> Any:
        if not options["role"]:
            raise CommandError("a service key needs --role")
        if options["workspace"]:
            ws = services.workspace_get_by_path(options["workspace"])
            org = ws.organization
            role = role_by_name(org, options["role"], Role.Scope.WORKSPACE)
        else:
            ws = None
            org = organization_get(options["org"])
            role = role_by_name(org, options["role"], Role.Scope.ORGANIZATION)
        return services.api_key_create(
            organization=org,
            workspace=ws,
            kind=ApiKey.Kind.SERVICE,
            role=role,
            user=user,
            name=options["name"],
            expires_at=expires_at,
        )

    def _personal(self, options: dict[str, Any], user: Any, expires_at: dt.datetime | None) -> Any:
        if options["role"]:
            raise CommandError("a personal token carries its user's role; do not pass --role")
        if user is None or not options["workspace"]:
            raise CommandError("a personal token needs --user EMAIL and --workspace ORG/WS")
        ws = services.workspace_get_by_path(options["workspace"])
        return services.api_key_create(
            organization=ws.organization,
            workspace=ws,
            kind=ApiKey.Kind.PERSONAL,
            user=user,
            name=options["name"],
            expires_at=expires_at,
        )

    def _user(self, email: str | None) -> Any:
        if not email:
            return None
        user = get_user_model().objects.filter(email__iexact=email.strip()).first()
        if user is None:
            raise CommandError(f"no user {email!r} (add one with gateway_member)")
        return user

    def _expiry(self, options: dict[str, Any]) -> dt.datetime | None:
        if options["expires_days"] is not None:
            if options["expires_days"] <= 0:
                raise CommandError("--expires-days must be a positive number of days")
            return timezone.now() + dt.timedelta(days=options["expires_days"])
        if options["expires_at"]:
            try:
                parsed = parse_datetime(options["expires_at"])
            except ValueError:
                parsed = None
            if parsed is None:
                raise CommandError(f"--expires-at must be ISO 8601, not {options['expires_at']!r}")
            if timezone.is_naive(parsed):
                parsed = timezone.make_aware(parsed, dt.UTC)
            return parsed
        return None
