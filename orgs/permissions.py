"""The one answer to "may this principal do P in workspace W".

The admin, the management API, the CLI and the proxy all ask here. Principals are Django users,
service keys and personal access tokens (both `ApiKey`).

Why the admin's own hooks and not django-guardian: our grants are not per object but per role
membership (one organization role, one role per workspace), and a role's permissions apply to
everything inside its workspace. Guardian would duplicate each membership into per-object rows
that must be kept in sync on every role change; resolving from the membership tables directly is
one indexed query per request (cached on the principal), and `get_queryset`/`has_*_permission`
in orgs.admin.WorkspaceScopedAdmin are all the admin needs.

The resolution rules, in order:
- a superuser (the platform operator) may do everything;
- an inactive (revoked/expired) key may do nothing;
- ORGANIZATION_ADMIN in an organization grants every permission in all its workspaces;
- otherwise a user's workspace permissions are those of their role in that workspace;
- a workspace-scoped service key has its role's permissions in its workspace only;
- an organization-scoped service key with a workspace role has it in every workspace of the
  organization (the proxy refuses such keys anyway);
- a personal token has its user's permissions, in its own workspace only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orgs.models import ApiKey, OrganizationMember, Role, Workspace, WorkspaceMember
from orgs.permissions_catalogue import (
    INVOKE_PERMISSIONS,
    ORG_PERMISSIONS,
    ORGANIZATION_ADMIN,
    WORKSPACE_PERMISSIONS,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    from orgs.models import Organization

    Principal = AbstractBaseUser | AnonymousUser | ApiKey

ALL_PERMISSIONS = frozenset(ORG_PERMISSIONS) | frozenset(WORKSPACE_PERMISSIONS)


def resolve_workspace_permissions(
    *, org_role_name: str | None, workspace_role_permissions: frozenset[str] | None
) -> frozenset[str]:
    """Pure rule shared with the proxy's in-process table: org admin ⇒ all, else the ws role."""
    if org_role_name == ORGANIZATION_ADMIN:
        return frozenset(WORKSPACE_PERMISSIONS)
    return workspace_role_permissions or frozenset()


def _cache(principal: object) -> dict[tuple[str, int], frozenset[str]]:
    cache = getattr(principal, "_gw_perm_cache", None)
    if cache is None:
        cache = {}
        principal._gw_perm_cache = cache  # type: ignore[attr-defined]
    return cache


def _user_org_role(
    user: AbstractBaseUser, organization_id: int
) -> tuple[str, frozenset[str]] | None:
    member = (
        OrganizationMember.objects.select_related("role")
        .filter(user=user, organization_id=organization_id)
        .first()
    )
    if member is None:
        return None
    return member.role.name, member.role.permission_set


def _user_workspace_permissions(user: AbstractBaseUser, workspace: Workspace) -> frozenset[str]:
    org_role = _user_org_role(user, workspace.organization_id)
    member = (
        WorkspaceMember.objects.select_related("role")
        .filter(user=user, workspace=workspace)
        .first()
    )
    return resolve_workspace_permissions(
        org_role_name=org_role[0] if org_role else None,
        workspace_role_permissions=member.role.permission_set if member else None,
    )


def workspace_permissions(principal: Principal, workspace: Workspace) -> frozenset[str]:
    """Every workspace permission `principal` holds in `workspace` (cached on the principal)."""
    cache = _cache(principal)
    cache_key = ("ws", workspace.pk)
    if cache_key in cache:
        return cache[cache_key]
    result: frozenset[str]
    if isinstance(principal, ApiKey):
        result = _key_workspace_permissions(principal, workspace)
    elif not getattr(principal, "is_authenticated", False) or not getattr(
        principal, "is_active", False
    ):
        result = frozenset()
    elif getattr(principal, "is_superuser", False):
        result = frozenset(WORKSPACE_PERMISSIONS)
    else:
        result = _user_workspace_permissions(principal, workspace)  # type: ignore[arg-type]
    cache[cache_key] = result
    return result


def key_grants(
    *,
    kind: str,
    role_scope: str | None,
    role_name: str | None,
    role_permissions: frozenset[str],
    user_grants: frozenset[str],
) -> frozenset[str]:
    """What a key may do in its own workspace: a personal token carries its user's grants
    there; a service key its role's (an organization-scoped role: as resolved for an
    organization role). The one rule behind `workspace_permissions` and the proxy's table."""
    if kind == ApiKey.Kind.PERSONAL:
        return user_grants
    if role_scope is None:
        return frozenset()
    if role_scope == Role.Scope.ORGANIZATION:
        return resolve_workspace_permissions(
            org_role_name=role_name, workspace_role_permissions=None
        )
    return role_permissions


def _key_workspace_permissions(key: ApiKey, workspace: Workspace) -> frozenset[str]:
    if not key.is_active or key.organization_id != workspace.organization_id:
        return frozenset()
    if key.workspace_id is not None and key.workspace_id != workspace.pk:
        return frozenset()
    user_grants: frozenset[str] = frozenset()
    if key.kind == ApiKey.Kind.PERSONAL:
        if key.workspace_id != workspace.pk or key.user is None or not key.user.is_active:
            return frozenset()
        user_grants = _user_workspace_permissions(key.user, workspace)
    role = key.role
    return key_grants(
        kind=key.kind,
        role_scope=role.scope if role else None,
        role_name=role.name if role else None,
        role_permissions=role.permission_set if role else frozenset(),
        user_grants=user_grants,
    )


def user_grants_by_workspace() -> dict[tuple[int, int], frozenset[str]]:
    """(user id, workspace id) → the workspace permissions of every active user, in bulk (the
    proxy's key table): the same rules as `workspace_permissions`, in three queries."""
    org_roles = {
        (m.user_id, m.organization_id): m.role.name
        for m in OrganizationMember.objects.select_related("role").filter(user__is_active=True)
    }
    result: dict[tuple[int, int], frozenset[str]] = {}
    members = WorkspaceMember.objects.select_related("role", "workspace").filter(
        user__is_active=True
    )
    for m in members:
        result[(m.user_id, m.workspace_id)] = resolve_workspace_permissions(
            org_role_name=org_roles.get((m.user_id, m.workspace.organization_id)),
            workspace_role_permissions=m.role.permission_set,
        )
    admin_orgs: dict[int, list[int]] = {}
    for (user_id, org_id), role_name in org_roles.items():
        if role_name == ORGANIZATION_ADMIN:  # every permission in each workspace, member or not
            admin_orgs.setdefault(org_id, []).append(user_id)
    if admin_orgs:
        everything = resolve_workspace_permissions(
            org_role_name=ORGANIZATION_ADMIN, workspace_role_permissions=None
        )
        for ws_id, org_id in Workspace.objects.filter(
            organization_id__in=list(admin_orgs)
        ).values_list("pk", "organization_id"):
            for user_id in admin_orgs[org_id]:
                result[(user_id, ws_id)] = everything
    return result


def organization_permissions(principal: Principal, organization: Organization) -> frozenset[str]:
    """Organization-level permissions of `principal` (organization:manage/read/pats:create)."""
    cache = _cache(principal)
    cache_key = ("org", organization.pk)
    if cache_key in cache:
        return cache[cache_key]
    result: frozenset[str] = frozenset()
    if isinstance(principal, ApiKey):
        if (
            principal.is_active
            and principal.organization_id == organization.pk
            and principal.kind == ApiKey.Kind.SERVICE
            and principal.workspace_id is None
            and principal.role is not None
            and principal.role.scope == principal.role.Scope.ORGANIZATION
        ):
            result = principal.role.permission_set & frozenset(ORG_PERMISSIONS)
    elif getattr(principal, "is_authenticated", False) and getattr(principal, "is_active", False):
        if getattr(principal, "is_superuser", False):
            result = frozenset(ORG_PERMISSIONS)
        else:
            org_role = _user_org_role(principal, organization.pk)  # type: ignore[arg-type]
            result = org_role[1] & frozenset(ORG_PERMISSIONS) if org_role else frozenset()
    cache[cache_key] = result
    return result


def has_permission(
    principal: Principal,
    permission: str,
    *,
    workspace: Workspace | None = None,
    organization: Organization | None = None,
) -> bool:
    """May `principal` do `permission` in `workspace` (or, for organization:*, `organization`)?"""
    if permission in ORG_PERMISSIONS:
        org = (
            organization
            if organization is not None
            else (workspace.organization if workspace else None)
        )
        return org is not None and permission in organization_permissions(principal, org)
    if workspace is None:
        return False
    return permission in workspace_permissions(principal, workspace)


def visible_workspace_ids(
    principal: Principal, permission: str = "workspaces:read"
) -> set[int] | None:
    """Workspace ids where `principal` holds `permission`; None means all (superuser)."""
    if isinstance(principal, ApiKey):
        if principal.workspace_id is not None:
            ws = principal.workspace
            return (
                {ws.pk}
                if ws is not None and has_permission(principal, permission, workspace=ws)
                else set()
            )
        return {
            ws.pk
            for ws in Workspace.objects.filter(organization_id=principal.organization_id)
            if has_permission(principal, permission, workspace=ws)
        }
    if not getattr(principal, "is_authenticated", False) or not getattr(
        principal, "is_active", False
    ):
        return set()
    if getattr(principal, "is_superuser", False):
        return None
    admin_orgs = OrganizationMember.objects.filter(
        user=principal, role__name=ORGANIZATION_ADMIN, role__builtin=True
    ).values_list("organization_id", flat=True)
    ids = set(
        Workspace.objects.filter(organization_id__in=list(admin_orgs)).values_list("pk", flat=True)
    )
    for member in WorkspaceMember.objects.select_related("role").filter(user=principal):
        if permission in member.role.permission_set:
            ids.add(member.workspace_id)
    return ids


def visible_organization_ids(
    principal: Principal, permission: str = "organization:read"
) -> set[int] | None:
    """Organization ids where `principal` holds the org-level `permission`; None means all."""
    if isinstance(principal, ApiKey):
        org = principal.organization
        return {org.pk} if has_permission(principal, permission, organization=org) else set()
    if not getattr(principal, "is_authenticated", False) or not getattr(
        principal, "is_active", False
    ):
        return set()
    if getattr(principal, "is_superuser", False):
        return None
    return {
        m.organization_id
        for m in OrganizationMember.objects.select_related("role").filter(user=principal)
        if permission in m.role.permission_set
    }


def may_sign_in(user: AbstractBaseUser | AnonymousUser) -> bool:
    """May `user` sign in to the product UI (the admin)? Derived from roles, not from Django's
    `is_staff` flag, so nobody has to set a flag by hand after adding a member: an active
    superuser or staff user, or an active member of any organization. What they then see is
    decided per page by these same permissions (orgs.admin.scoping): an organization or
    workspace admin manages their scope, a member finds their workspaces and their own page."""
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return False
    if getattr(user, "is_superuser", False) or getattr(user, "is_staff", False):
        return True
    return OrganizationMember.objects.filter(user=user).exists()


def gateway_problem(*, workspace: Workspace, permissions: frozenset[str]) -> str | None:
    """Why a key holding `permissions` in `workspace` cannot call the gateway, or None."""
    if not workspace.organization.llm_gateway_enabled:
        return f"the LLM Gateway is not enabled for {workspace.organization.slug}"
    missing = [p for p in INVOKE_PERMISSIONS if p not in permissions]
    if missing:
        return f"its role lacks {' and '.join(missing)}"
    return None


def key_gateway_problem(key: ApiKey) -> str | None:
    """Why every gateway call with `key` would be refused as things stand, or None: the same
    rules the proxy applies (revoked or expired, organization-scoped, gateway off, missing
    gateway:invoke or workspaces:read), in words for the admin."""
    if key.revoked_at is not None:
        return "revoked"
    if not key.is_active:
        return "expired"
    if key.workspace_id is None:
        return "organization-scoped keys are refused: use a workspace-scoped key"
    workspace = key.workspace
    if workspace is None:
        return "organization-scoped keys are refused: use a workspace-scoped key"
    return gateway_problem(workspace=workspace, permissions=workspace_permissions(key, workspace))


def role_gateway_problem(permissions: frozenset[str] | set[str] | list[str]) -> str | None:
    """A workspace role meant to call the gateway (it has gateway:invoke) that cannot: the
    gateway also needs workspaces:read. None for a complete or a read-only role."""
    perms = set(permissions)
    if "gateway:invoke" in perms and "workspaces:read" not in perms:
        return "it has gateway:invoke but not workspaces:read, which calls also need"
    return None
