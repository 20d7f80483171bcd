"""Helpers shared by the ops commands (manage.py gateway_*): one-line errors, exit code 1.

Every command is a thin adapter: parse arguments, call one service, print. Service errors
(ValidationError, PermissionDenied, BuiltinRoleImmutable) become a CommandError, which Django
prints as one line on stderr with exit code 1. The CLI runs as the platform operator
(actor=None), as the services document.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.core.management.base import CommandError

from orgs.models import Organization, Role


def one_line(exc: BaseException) -> str:
    messages = getattr(exc, "messages", None)
    text = "; ".join(str(m) for m in messages) if messages else str(exc)
    return " ".join(text.split())


@contextmanager
def service_errors() -> Iterator[None]:
    """Turn a refused write into a one-line CommandError (exit code 1)."""
    try:
        yield
    except (ValidationError, PermissionDenied, ObjectDoesNotExist) as exc:
        raise CommandError(one_line(exc)) from exc


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
