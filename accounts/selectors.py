"""Reads for the member's own page: where they are a member, with which role, what they may
do there, and their personal access tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from orgs.models import ApiKey, OrganizationMember, Workspace, WorkspaceMember
from orgs.permissions import (
    gateway_problem,
    has_permission,
    visible_workspace_ids,
    workspace_permissions,
)
from orgs.permissions_catalogue import ORGANIZATION_ADMIN

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django.db.models import QuerySet


@dataclass(frozen=True)
class WorkspaceAccess:
    workspace: Workspace
    role_name: str
    permissions: tuple[str, ...]
    may_create_tokens: bool
    gateway_problem: str | None  # why a token of this user here cannot call the gateway

    @property
    def can_call_gateway(self) -> bool:
        return self.gateway_problem is None


def member_workspaces(*, user: AbstractBaseUser) -> list[WorkspaceAccess]:
    """Every workspace where `user` holds a permission, with the role that gives it."""
    ids = visible_workspace_ids(user, "workspaces:read")
    workspaces = Workspace.objects.select_related("organization").order_by(
        "organization__slug", "slug"
    )
    if ids is not None:
        workspaces = workspaces.filter(pk__in=ids)
    roles = {
        m.workspace_id: m.role.name
        for m in WorkspaceMember.objects.select_related("role").filter(user=user)
    }
    admin_orgs = set(
        OrganizationMember.objects.filter(user=user, role__name=ORGANIZATION_ADMIN).values_list(
            "organization_id", flat=True
        )
    )
    result = []
    for ws in workspaces:
        permissions = workspace_permissions(user, ws)
        if not permissions:
            continue
        role = roles.get(ws.pk)
        if ws.organization_id in admin_orgs:
            role = f"{role} + {ORGANIZATION_ADMIN}" if role else ORGANIZATION_ADMIN
        result.append(
            WorkspaceAccess(
                workspace=ws,
                role_name=role or "operator",
                permissions=tuple(sorted(permissions)),
                may_create_tokens=has_permission(
                    user, "organization:pats:create", organization=ws.organization
                ),
                gateway_problem=gateway_problem(workspace=ws, permissions=permissions),
            )
        )
    return result


def member_organizations(*, user: AbstractBaseUser) -> QuerySet[OrganizationMember]:
    return (
        OrganizationMember.objects.filter(user=user)
        .select_related("organization", "role")
        .order_by("organization__slug")
    )


def member_tokens(*, user: AbstractBaseUser) -> QuerySet[ApiKey]:
    """The user's personal access tokens, newest first (revoked ones included)."""
    return ApiKey.objects.filter(kind=ApiKey.Kind.PERSONAL, user=user).select_related(
        "workspace__organization"
    )
