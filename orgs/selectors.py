"""Reads for the organization page: its workspaces with what each has (members, keys, provider
secrets), its members and its keys, limited to what the viewer may see."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Q
from django.utils import timezone

from orgs.models import ApiKey, Organization, OrganizationMember, Workspace
from orgs.permissions import has_permission, visible_workspace_ids

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

SECRET_NAMES = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY")


@dataclass(frozen=True)
class WorkspaceOverview:
    workspace: Workspace
    members: int
    active_keys: int
    secrets: dict[str, bool]  # secret name → set?
    trace_content: bool


def organization_overview(
    *, organization: Organization, viewer: AbstractBaseUser
) -> dict[str, Any]:
    """The organization page's summary; workspaces limited to those the viewer may read,
    members and keys shown to those who manage the organization."""
    ids = visible_workspace_ids(viewer, "workspaces:read")
    now = timezone.now()
    active = Q(api_keys__revoked_at__isnull=True) & (
        Q(api_keys__expires_at__isnull=True) | Q(api_keys__expires_at__gt=now)
    )
    workspaces = Workspace.objects.filter(organization=organization).annotate(
        member_count=Count("members", distinct=True),
        key_count=Count("api_keys", filter=active, distinct=True),
    )
    if ids is not None:
        workspaces = workspaces.filter(pk__in=ids)
    rows = []
    for ws in workspaces.prefetch_related("provider_secrets"):
        names = {s.name for s in ws.provider_secrets.all()}
        rows.append(
            WorkspaceOverview(
                workspace=ws,
                members=ws.member_count,  # type: ignore[attr-defined]
                active_keys=ws.key_count,  # type: ignore[attr-defined]
                secrets={name: name in names for name in SECRET_NAMES},
                trace_content=ws.trace_content,
            )
        )
    manages = has_permission(viewer, "organization:manage", organization=organization)
    members = (
        OrganizationMember.objects.filter(organization=organization)
        .select_related("user", "role")
        .order_by("role__name", "user__email")
        if manages
        else OrganizationMember.objects.none()
    )
    keys = ApiKey.objects.filter(organization=organization).active()
    return {
        "workspaces": rows,
        "manages": manages,
        "members": members,
        "member_count": OrganizationMember.objects.filter(organization=organization).count(),
        "service_keys": keys.filter(kind=ApiKey.Kind.SERVICE).count() if manages else None,
        "personal_tokens": keys.filter(kind=ApiKey.Kind.PERSONAL).count() if manages else None,
        "org_scoped_keys": keys.filter(workspace__isnull=True).count() if manages else None,
    }
