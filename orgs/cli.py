"""Look-ups shared by the tenancy commands (manage.py gateway_*).

Every command is a thin adapter: parse arguments, call one service, print. The CLI contract
(one line on stderr and exit code 1 for bad input, argument errors included; quiet when piped
into `head`) is kept by their base class, gateway_site.lib.cli.GatewayCommand. The CLI runs as
the platform operator (actor=None), as the services document.
"""

from __future__ import annotations

from django.core.management.base import CommandError

from orgs.models import Organization, Role


def organization_get(slug: str) -> Organization:
    org = Organization.objects.filter(slug=slug).first()
    if org is None:
        raise CommandError(f"no organization {slug!r} (create it with gateway_org {slug})")
    return org


def role_by_name(organization: Organization, name: str, scope: str) -> Role:
    """A built-in role or a custom role of `organization`, by name and scope."""
    role = Role.objects.for_organization(organization).filter(name=name).first()
    if role is None:
        choices = Role.objects.for_organization(organization).filter(scope=scope)
        raise CommandError(
            f"no role {name!r} in {organization.slug} "
            f"(choose from {', '.join(r.name for r in choices)})"
        )
    if role.scope != scope:
        raise CommandError(f"{name} is an {role.scope} role; a {scope} role is needed here")
    return role
