"""Reads behind the management API, each scoped by orgs.permissions (STYLE 2.2 selectors).

Every list starts from what the principal may see; nothing here returns `Model.objects.all()`
to a caller that is not a superuser.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet

from orgs.models import (
    ApiKey,
    AuditLogEntry,
    Organization,
    OrganizationMember,
    Role,
    Workspace,
    WorkspaceMember,
)
from orgs.permissions import visible_organization_ids, visible_workspace_ids
from secrets_vault.models import ProviderSecret

if TYPE_CHECKING:
    from orgs.permissions import Principal


def workspace_list(
    *, principal: Principal, organization_id: int | None = None
) -> QuerySet[Workspace]:
    """Workspaces where the principal holds workspaces:read, optionally of one organization."""
    ids = visible_workspace_ids(principal, "workspaces:read")
    qs = Workspace.objects.select_related("organization")
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    if organization_id is not None:
        qs = qs.filter(organization_id=organization_id)
    return qs.order_by("organization__slug", "slug")


def member_list(*, workspace: Workspace) -> QuerySet[WorkspaceMember]:
    return (
        WorkspaceMember.objects.filter(workspace=workspace)
        .select_related("user", "role")
        .order_by("user__username")
    )


def member_get(*, workspace: Workspace, user_id: int) -> WorkspaceMember | None:
    return member_list(workspace=workspace).filter(user_id=user_id).first()


def org_member_list(*, organization: Organization) -> QuerySet[OrganizationMember]:
    return (
        OrganizationMember.objects.filter(organization=organization)
        .select_related("user", "role")
        .order_by("user__username")
    )


def role_list(*, organization: Organization) -> QuerySet[Role]:
    """The built-in roles (read-only) and the organization's custom roles."""
    return Role.objects.for_organization(organization).order_by("-builtin", "scope", "name")


def role_get(*, organization: Organization, role_id: int) -> Role | None:
    return role_list(organization=organization).filter(pk=role_id).first()


def service_key_list(*, workspace: Workspace) -> QuerySet[ApiKey]:
    return (
        ApiKey.objects.for_workspace(workspace)
        .filter(kind=ApiKey.Kind.SERVICE)
        .select_related("role", "user", "workspace__organization")
        .order_by("-created_at", "-id")
    )


def org_service_key_list(*, organization: Organization) -> QuerySet[ApiKey]:
    """The organization-scoped service keys (no workspace)."""
    return (
        ApiKey.objects.filter(
            organization=organization, workspace__isnull=True, kind=ApiKey.Kind.SERVICE
        )
        .select_related("role", "user")
        .order_by("-created_at", "-id")
    )


def personal_token_list(*, user_id: int) -> QuerySet[ApiKey]:
    return (
        ApiKey.objects.filter(kind=ApiKey.Kind.PERSONAL, user_id=user_id)
        .select_related("role", "user", "workspace__organization")
        .order_by("-created_at", "-id")
    )


def secret_list(*, workspace: Workspace) -> QuerySet[ProviderSecret]:
    """Provider secrets of a workspace; callers serialize only name, last4, base_url, set_at."""
    return ProviderSecret.objects.for_workspace(workspace).order_by("name")


def audit_list(
    *,
    principal: Principal,
    organization_id: int | None = None,
    workspace_id: int | None = None,
    action: str | None = None,
) -> QuerySet[AuditLogEntry]:
    """Audit entries of organizations the principal manages (organization:manage), plus those of
    workspaces it manages (workspaces:manage). Organization-level entries (roles, the flag) are
    only for organization managers."""
    org_ids = visible_organization_ids(principal, "organization:manage")
    ws_ids = visible_workspace_ids(principal, "workspaces:manage")
    qs = AuditLogEntry.objects.all()
    if org_ids is not None and ws_ids is not None:
        qs = qs.filter(Q(organization_id__in=org_ids) | Q(workspace_id__in=ws_ids))
    if organization_id is not None:
        qs = qs.filter(organization_id=organization_id)
    if workspace_id is not None:
        qs = qs.filter(workspace_id=workspace_id)
    if action:
        qs = qs.filter(action=action)
    return qs
