"""What the policy commands share (gateway_spend_limit, gateway_rate_limit,
gateway_model_access): reading a subject from the command line, and `--show`.

SUBJECT by scope: the organization slug (organization), ORG/WS (workspace), a key id or prefix
(api_key), a user's email (user), ORG/WS:CUSTOMER_ID (customer). With --default-per-member the
subject is the group: the organization slug, or ORG/WS for keys, users and customers of one
workspace.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from orgs.models import Organization, OrganizationMember
from orgs.services import api_key_find, workspace_get_by_path


def _org(slug: str) -> Organization:
    org = Organization.objects.filter(slug=slug).first()
    if org is None:
        raise ValidationError(f"no organization {slug!r}")
    return org


def subject_from_cli(scope: str, subject: str, *, per_member: bool) -> dict[str, Any]:
    """{"organization": …, and "workspace" / "api_key" / "user" / "customer" as the scope
    names them}; ValidationError for a subject that does not exist."""
    if scope == "organization" or (per_member and scope == "workspace"):
        return {"organization": _org(subject)}
    if scope == "customer" and not per_member:
        path, sep, customer = subject.partition(":")
        if not sep or not customer:
            raise ValidationError(f"a customer is ORG/WS:CUSTOMER_ID, not {subject!r}")
        ws = workspace_get_by_path(path)
        return {"organization": ws.organization, "workspace": ws, "customer": customer}
    if scope == "workspace" or per_member:
        if per_member and "/" not in subject:
            return {"organization": _org(subject)}
        ws = workspace_get_by_path(subject)
        return {"organization": ws.organization, "workspace": ws}
    if scope == "api_key":
        key = api_key_find(subject)
        if key is None:
            raise ValidationError(f"no API key {subject!r}")
        return {"organization": key.organization, "api_key": key}
    user = get_user_model().objects.filter(email__iexact=subject).first()
    if user is None:
        raise ValidationError(f"no user {subject!r}")
    orgs = OrganizationMember.objects.filter(user=user).select_related("organization")
    if orgs.count() != 1:
        raise ValidationError(
            f"{subject} belongs to {orgs.count()} organizations; a user policy needs exactly one"
        )
    return {"organization": orgs.first().organization, "user": user}  # type: ignore[union-attr]


def show_effective(scope: str, subject: str) -> dict[str, Any]:
    """`--show`: everything that applies to the subject's calls (policies.effective) as plain
    data: redaction, spend limits, rate limits, model access, notes."""
    # Imported when asked: it loads the redaction scanner's module.
    from policies.effective import (
        effective_for_key,
        effective_for_organization,
        effective_for_user,
        effective_for_workspace,
    )

    if scope == "customer":
        raise ValidationError("--show takes an organization, workspace, API key or user")
    found = subject_from_cli(scope, subject, per_member=False)
    if scope == "api_key":
        effective = effective_for_key(found["api_key"])
    elif scope == "user":
        effective = effective_for_user(found["user"], found["organization"])
    elif scope == "workspace":
        effective = effective_for_workspace(found["workspace"])
    else:
        effective = effective_for_organization(found["organization"])
    return effective.as_dict()
