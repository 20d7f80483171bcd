"""Scoping for the management API, on top of orgs.permissions (the one permission function).

Rules every view follows:
- an object the principal cannot see at all (another organization's or workspace's) is 404,
  never 403, so ids cannot be probed;
- an object the principal can see but not act on (a member without the permission) is 403 with
  the missing permission named.
A workspace is visible when the principal holds any permission in it; an organization when the
principal holds any organization permission in it or can see one of its workspaces.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rest_framework import exceptions, permissions

from api.authentication import KeyActor
from orgs.models import ApiKey, Organization, Workspace
from orgs.permissions import (
    has_permission,
    organization_permissions,
    visible_organization_ids,
    visible_workspace_ids,
    workspace_permissions,
)

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView

    from orgs.permissions import Principal


class IsPrincipal(permissions.BasePermission):
    """A valid gateway key or an active session user; anything else is 401."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if isinstance(request.auth, ApiKey):
            return True
        user = request.user
        return bool(user and user.is_authenticated and user.is_active)


def principal_of(request: Request) -> Principal:
    """The ApiKey for key authentication, else the session user."""
    if isinstance(request.auth, ApiKey):
        return request.auth
    return request.user


def actor_of(request: Request) -> Any:
    """What services receive as `actor`: the session user, or a KeyActor for a key."""
    if isinstance(request.auth, ApiKey):
        return KeyActor(api_key=request.auth)
    return request.user


def is_superuser(request: Request) -> bool:
    return not isinstance(request.auth, ApiKey) and bool(
        getattr(request.user, "is_superuser", False)
    )


def _forbidden(permission: str) -> exceptions.PermissionDenied:
    return exceptions.PermissionDenied(f"You do not have the {permission} permission here.")


def workspace_for(request: Request, workspace_id: int, permission: str | None = None) -> Workspace:
    """The workspace, 404 when invisible to the principal, 403 when `permission` is missing.

    `permission` may be a workspace permission or an organization one (checked on the
    workspace's organization)."""
    principal = principal_of(request)
    ws = Workspace.objects.select_related("organization").filter(pk=workspace_id).first()
    if ws is None or not _workspace_visible(principal, ws):
        raise exceptions.NotFound("Workspace not found.")
    if permission and not has_permission(principal, permission, workspace=ws):
        raise _forbidden(permission)
    return ws


def _workspace_visible(principal: Principal, ws: Workspace) -> bool:
    return bool(workspace_permissions(principal, ws))


def organization_visible(principal: Principal, org: Organization) -> bool:
    if organization_permissions(principal, org):
        return True
    ids = visible_workspace_ids(principal, "workspaces:read")
    return ids is None or Workspace.objects.filter(organization=org, pk__in=ids).exists()


def organization_for(
    request: Request, organization_id: int, permission: str | None = None
) -> Organization:
    """The organization, 404 when invisible to the principal, 403 when `permission` is missing."""
    principal = principal_of(request)
    org = Organization.objects.filter(pk=organization_id).first()
    if org is None or not organization_visible(principal, org):
        raise exceptions.NotFound("Organization not found.")
    if permission and not has_permission(principal, permission, organization=org):
        raise _forbidden(permission)
    return org


def visible_organizations(principal: Principal) -> Any:
    """Organizations the principal may see (see the module docstring)."""
    org_ids = visible_organization_ids(principal, "organization:read")
    ws_ids = visible_workspace_ids(principal, "workspaces:read")
    if org_ids is None or ws_ids is None:
        return Organization.objects.all()
    ws_org_ids = Workspace.objects.filter(pk__in=ws_ids).values_list("organization_id", flat=True)
    return Organization.objects.filter(pk__in=set(org_ids) | set(ws_org_ids))


def check_grantable(request: Request, workspace: Workspace, permission_set: frozenset[str]) -> None:
    """Refuse to hand out more than the caller holds: a custom role with
    workspaces:manage-members (or workspaces:manage, for keys) must not grant WORKSPACE_ADMIN
    to itself or to a key. 403 naming what is missing."""
    held = workspace_permissions(principal_of(request), workspace)
    missing = sorted(permission_set - held)
    if missing:
        raise exceptions.PermissionDenied(
            f"You cannot grant permissions you do not hold here: {', '.join(missing)}."
        )
