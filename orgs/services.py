"""Writes for tenancy, roles, members and keys. Each service records an audit entry.

The admin, the CLI and the REST API call these; none of them writes these models directly.
Key services live in orgs.services_keys, invitations in orgs.services_invitations and the audit
writer in orgs.audit; all are re-exported here, so callers import everything from orgs.services.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from orgs import services_invitations as _invitations
from orgs import services_keys as _keys
from orgs.audit import audit_record as audit_record
from orgs.models import (
    BuiltinRoleImmutable,
    Organization,
    OrganizationMember,
    Role,
    Workspace,
    WorkspaceMember,
)
from orgs.permissions_catalogue import WORKSPACE_PERMISSIONS

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

# Key services, re-exported: callers (admin, CLI, REST API, proxy) import them from here.
CreatedKey = _keys.CreatedKey
api_key_check = _keys.api_key_check
api_key_create = _keys.api_key_create
api_key_revoke = _keys.api_key_revoke
api_key_find = _keys.api_key_find
api_key_authenticate = _keys.api_key_authenticate
api_key_rehash = _keys.api_key_rehash
api_key_touch = _keys.api_key_touch
# Invitations (first sign-in of a member), re-exported likewise.
Invitation = _invitations.Invitation
member_invite = _invitations.member_invite


def _org_state(org: Organization) -> dict[str, Any]:
    return {"name": org.name, "plan": org.plan, "llm_gateway_enabled": org.llm_gateway_enabled}


@transaction.atomic
def organization_upsert(
    *,
    slug: str,
    name: str | None = None,
    plan: str | None = None,
    llm_gateway_enabled: bool | None = None,
    actor: AbstractBaseUser | None = None,
) -> Organization:
    """Create or update an organization. Changing the gateway flag needs a superuser actor
    (the CLI runs as the platform operator and passes actor=None)."""
    if plan is not None and plan not in Organization.Plan.values:
        raise ValidationError(f"unknown plan {plan!r} (basic or enterprise)")
    org = Organization.objects.select_for_update().filter(slug=slug).first()
    created = org is None
    if org is None:
        org = Organization(slug=slug, name=name or slug)
        org.full_clean()
    before = None if created else _org_state(org)
    if (
        llm_gateway_enabled is not None
        and llm_gateway_enabled != org.llm_gateway_enabled
        and actor is not None
        and not getattr(actor, "is_superuser", False)
    ):
        raise PermissionDenied("Only a superuser may change the LLM Gateway flag.")
    if name is not None:
        org.name = name
    if plan is not None:
        org.plan = plan
    if llm_gateway_enabled is not None:
        org.llm_gateway_enabled = llm_gateway_enabled
    after = _org_state(org)
    if created or before != after:
        org.save()
        audit_record(
            action="organization.create" if created else "organization.update",
            obj=org,
            actor=actor,
            organization=org,
            before=before,
            after=after,
        )
    return org


@transaction.atomic
def workspace_upsert(
    *,
    organization: Organization,
    slug: str,
    name: str | None = None,
    trace_content: bool | None = None,
    actor: AbstractBaseUser | None = None,
) -> Workspace:
    """Create or update a workspace of `organization`."""
    ws = Workspace.objects.filter(organization=organization, slug=slug).first()
    created = ws is None
    if ws is None:
        ws = Workspace(organization=organization, slug=slug, name=name or slug)
        ws.full_clean()
    before = None if created else {"name": ws.name, "trace_content": ws.trace_content}
    if name is not None:
        ws.name = name
    if trace_content is not None:
        ws.trace_content = trace_content
    after = {"name": ws.name, "trace_content": ws.trace_content}
    if created or before != after:
        ws.save()
        audit_record(
            action="workspace.create" if created else "workspace.update",
            obj=ws,
            actor=actor,
            organization=organization,
            workspace=ws,
            before=before,
            after=after,
        )
    return ws


def workspace_get_by_path(path: str) -> Workspace:
    """`ORG/WS` → Workspace, or ValidationError with a one-line message."""
    org_slug, sep, ws_slug = path.partition("/")
    if not sep or not org_slug or not ws_slug:
        raise ValidationError(f"workspace must be ORG/WS, not {path!r}")
    ws = (
        Workspace.objects.select_related("organization")
        .filter(organization__slug=org_slug, slug=ws_slug)
        .first()
    )
    if ws is None:
        raise ValidationError(f"no workspace {path!r}")
    return ws


def role_get(*, organization: Organization, name: str, scope: str) -> Role:
    role = Role.objects.for_organization(organization).filter(name=name, scope=scope).first()
    if role is None:
        raise ValidationError(f"no {scope} role {name!r} in {organization.slug}")
    return role


CUSTOM_ROLES_NEED_ENTERPRISE = (
    "Custom roles need the enterprise plan; on the basic plan use the built-in "
    "WORKSPACE_ADMIN role (it includes gateway:invoke and workspaces:read)."
)


def role_check(*, organization: Organization, name: str, permissions: list[str]) -> None:
    """The rules every custom-role write obeys; the admin form calls it to show errors inline."""
    if organization.plan != Organization.Plan.ENTERPRISE:
        raise ValidationError(CUSTOM_ROLES_NEED_ENTERPRISE)
    if Role.objects.filter(builtin=True, name=name).exists():
        raise BuiltinRoleImmutable(f"{name} is a built-in role and cannot be changed.")
    unknown = sorted(set(permissions) - set(WORKSPACE_PERMISSIONS))
    if unknown:
        raise ValidationError(
            f"unknown workspace permissions: {', '.join(unknown)} "
            f"(allowed: {', '.join(WORKSPACE_PERMISSIONS)})"
        )
    if not permissions:
        raise ValidationError("a role needs at least one permission")


@transaction.atomic
def role_delete(*, role: Role, actor: AbstractBaseUser | None = None) -> None:
    """Delete a custom role that nobody holds. Built-in roles are refused (immutable), and a
    role still held by a member or a key is refused with the count, not cascaded."""
    if role.builtin:
        raise BuiltinRoleImmutable(f"{role.name} is a built-in role and cannot be deleted.")
    in_use = role.workspace_members.count() + role.org_members.count() + role.api_keys.count()
    if in_use:
        raise ValidationError(
            f"role {role.name} is still held by {in_use} member(s) or key(s); reassign them first"
        )
    audit_record(
        action="role.delete",
        obj=role,
        actor=actor,
        organization=role.organization,
        before={"name": role.name, "permissions": role.permissions},
    )
    role.delete()


@transaction.atomic
def role_upsert(
    *,
    organization: Organization,
    name: str,
    permissions: list[str],
    description: str = "",
    actor: AbstractBaseUser | None = None,
) -> Role:
    """Create or update a custom workspace role (enterprise plan only; built-ins are immutable)."""
    role_check(organization=organization, name=name, permissions=permissions)
    perms = sorted(set(permissions))
    role = Role.objects.filter(organization=organization, name=name).first()
    before = None if role is None else {"permissions": role.permissions}
    if role is None:
        role = Role(organization=organization, name=name, scope=Role.Scope.WORKSPACE)
    role.permissions = perms
    role.description = description or role.description
    role.full_clean(exclude=["organization"])
    role.save()
    audit_record(
        action="role.create" if before is None else "role.update",
        obj=role,
        actor=actor,
        organization=organization,
        before=before,
        after={"permissions": perms},
    )
    return role


def user_get_or_create(*, email: str) -> AbstractBaseUser:
    """Find a user by email (case-insensitive), or create one with an unusable password."""
    email = email.strip()
    if "@" not in email:
        raise ValidationError(f"not an email address: {email!r}")
    User = get_user_model()
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User.objects.filter(username__iexact=email).first()
    if user is None:
        user = User(username=email, email=email)
        user.set_unusable_password()
        user.save()
    return user


def member_check(*, workspace: Workspace, role: Role, org_role: Role | None = None) -> None:
    """The rules every membership write obeys; the admin form calls it to show errors inline."""
    if role.scope != Role.Scope.WORKSPACE:
        raise ValidationError(f"{role.name} is not a workspace role")
    if role.organization_id not in (None, workspace.organization_id):
        raise ValidationError(f"role {role.name} belongs to another organization")
    if org_role is not None and org_role.scope != Role.Scope.ORGANIZATION:
        raise ValidationError(f"{org_role.name} is not an organization role")


@transaction.atomic
def member_set(
    *,
    workspace: Workspace,
    user: AbstractBaseUser,
    role: Role,
    org_role: Role | None = None,
    actor: AbstractBaseUser | None = None,
) -> WorkspaceMember:
    """Give `user` `role` in `workspace` (one role per workspace) and ensure an org membership
    (ORGANIZATION_USER unless `org_role` says otherwise)."""
    org = workspace.organization
    member_check(workspace=workspace, role=role, org_role=org_role)
    if org_role is not None:
        org_member_set(organization=org, user=user, role=org_role, actor=actor)
    elif not OrganizationMember.objects.filter(organization=org, user=user).exists():
        org_member_set(
            organization=org,
            user=user,
            role=Role.objects.get(builtin=True, name="ORGANIZATION_USER"),
            actor=actor,
        )
    member = WorkspaceMember.objects.filter(workspace=workspace, user=user).first()
    if member is None:
        member = WorkspaceMember.objects.create(workspace=workspace, user=user, role=role)
        audit_record(
            action="member.create",
            obj=member,
            actor=actor,
            organization=org,
            workspace=workspace,
            after={"user": user.get_username(), "role": role.name},
        )
    elif member.role_id != role.pk:
        before = {"role": member.role.name}
        member.role = role
        member.save(update_fields=["role"])
        audit_record(
            action="member.update",
            obj=member,
            actor=actor,
            organization=org,
            workspace=workspace,
            before=before,
            after={"role": role.name},
        )
    return member


@transaction.atomic
def org_member_set(
    *,
    organization: Organization,
    user: AbstractBaseUser,
    role: Role,
    actor: AbstractBaseUser | None = None,
) -> OrganizationMember:
    """Give `user` the organization role `role` (one per organization), creating the membership."""
    if role.scope != Role.Scope.ORGANIZATION or not role.builtin:
        raise ValidationError(f"{role.name} is not an organization role")
    member = (
        OrganizationMember.objects.select_for_update()
        .filter(organization=organization, user=user)
        .first()
    )
    if member is None:
        member = OrganizationMember.objects.create(organization=organization, user=user, role=role)
        audit_record(
            action="org_member.create",
            obj=member,
            actor=actor,
            organization=organization,
            after={"user": user.get_username(), "role": role.name},
        )
    elif member.role_id != role.pk:
        before = {"role": member.role.name}
        member.role = role
        member.save(update_fields=["role"])
        audit_record(
            action="org_member.update",
            obj=member,
            actor=actor,
            organization=organization,
            before=before,
            after={"role": role.name},
        )
    return member


@transaction.atomic
def org_member_remove(
    *, organization: Organization, user: AbstractBaseUser, actor: AbstractBaseUser | None = None
) -> None:
    """Remove `user` from `organization` and from all its workspaces (their keys stay, and stop
    working: a personal token carries its user's role, which is gone)."""
    for member in WorkspaceMember.objects.filter(workspace__organization=organization, user=user):
        member_remove(workspace=member.workspace, user=user, actor=actor)
    member = OrganizationMember.objects.filter(organization=organization, user=user).first()
    if member is None:
        return
    audit_record(
        action="org_member.delete",
        obj=member,
        actor=actor,
        organization=organization,
        before={"user": user.get_username(), "role": member.role.name},
    )
    member.delete()


@transaction.atomic
def member_remove(
    *, workspace: Workspace, user: AbstractBaseUser, actor: AbstractBaseUser | None = None
) -> None:
    member = WorkspaceMember.objects.filter(workspace=workspace, user=user).first()
    if member is None:
        return
    audit_record(
        action="member.delete",
        obj=member,
        actor=actor,
        organization=workspace.organization,
        workspace=workspace,
        before={"user": user.get_username(), "role": member.role.name},
    )
    member.delete()
