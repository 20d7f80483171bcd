"""Writes for tenancy, roles, members and keys. Each service records an audit entry.

The admin, the CLI and the REST API call these; none of them writes these models directly.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from orgs import keys
from orgs.models import (
    ApiKey,
    AuditLogEntry,
    BuiltinRoleImmutable,
    Organization,
    OrganizationMember,
    Role,
    Workspace,
    WorkspaceMember,
    actor_label_for,
)
from orgs.permissions_catalogue import WORKSPACE_PERMISSIONS

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)


def audit_record(
    *,
    action: str,
    obj: Any,
    actor: AbstractBaseUser | None = None,
    actor_label: str | None = None,
    organization: Organization | None = None,
    workspace: Workspace | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditLogEntry:
    """Append one audit entry. Callers pass only non-secret fields in before/after."""
    return AuditLogEntry.objects.create(
        organization=organization,
        workspace=workspace,
        actor=actor if actor is not None and getattr(actor, "is_authenticated", False) else None,
        actor_label=actor_label or actor_label_for(actor, "cli"),
        action=action,
        object_type=type(obj).__name__,
        object_id=str(getattr(obj, "pk", "") or ""),
        object_repr=str(obj)[:300],
        before=before,
        after=after,
    )


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
    org_member = OrganizationMember.objects.filter(organization=org, user=user).first()
    if org_member is None:
        org_member = OrganizationMember.objects.create(
            organization=org,
            user=user,
            role=org_role or Role.objects.get(builtin=True, name="ORGANIZATION_USER"),
        )
        audit_record(
            action="org_member.create",
            obj=org_member,
            actor=actor,
            organization=org,
            after={"user": user.get_username(), "role": org_member.role.name},
        )
    elif org_role is not None and org_member.role_id != org_role.pk:
        before = {"role": org_member.role.name}
        org_member.role = org_role
        org_member.save(update_fields=["role"])
        audit_record(
            action="org_member.update",
            obj=org_member,
            actor=actor,
            organization=org,
            before=before,
            after={"role": org_role.name},
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


@dataclass(frozen=True)
class CreatedKey:
    """A new key: `plaintext` is the only copy there will ever be; show it once."""

    api_key: ApiKey
    plaintext: str


def _key_state(key: ApiKey) -> dict[str, Any]:
    return {
        "prefix": key.display_prefix,
        "kind": key.kind,
        "name": key.name,
        "workspace": str(key.workspace) if key.workspace_id else None,
        "role": key.role.name if key.role_id else None,
        "user": key.user.get_username() if key.user_id else None,
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
    }


def api_key_check(
    *,
    organization: Organization,
    workspace: Workspace | None,
    kind: str,
    role: Role | None,
    user: AbstractBaseUser | None,
    expires_at: dt.datetime | None,
) -> None:
    """The rules every new key obeys; the admin form calls it to show errors inline."""
    if workspace is not None and workspace.organization_id != organization.pk:
        raise ValidationError("workspace belongs to another organization")
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError("expiry must be in the future")
    if kind == ApiKey.Kind.SERVICE:
        if role is None:
            raise ValidationError("a service key needs a role")
        if role.organization_id not in (None, organization.pk):
            raise ValidationError(f"role {role.name} belongs to another organization")
        if workspace is not None and role.scope != Role.Scope.WORKSPACE:
            raise ValidationError(f"a workspace-scoped key needs a workspace role, not {role.name}")
        if (
            user is not None
            and not OrganizationMember.objects.filter(organization=organization, user=user).exists()
        ):
            raise ValidationError(f"{user.get_username()} is not a member of {organization.slug}")
    elif kind == ApiKey.Kind.PERSONAL:
        if user is None or workspace is None:
            raise ValidationError("a personal token needs a user and a workspace")
        if role is not None:
            raise ValidationError("a personal token carries its user's role; do not pass one")
        from orgs.permissions import has_permission, workspace_permissions

        if not has_permission(user, "organization:pats:create", organization=organization):
            raise PermissionDenied(f"{user.get_username()} lacks organization:pats:create")
        if not workspace_permissions(user, workspace):
            raise PermissionDenied(f"{user.get_username()} is not a member of {workspace}")
    else:
        raise ValidationError(f"unknown key kind {kind!r}")


@transaction.atomic
def api_key_create(
    *,
    organization: Organization,
    workspace: Workspace | None,
    kind: str = ApiKey.Kind.SERVICE,
    role: Role | None = None,
    user: AbstractBaseUser | None = None,
    name: str = "",
    expires_at: dt.datetime | None = None,
    actor: AbstractBaseUser | None = None,
) -> CreatedKey:
    """Issue a service key or personal token. The plaintext is returned once and never stored."""
    api_key_check(
        organization=organization,
        workspace=workspace,
        kind=kind,
        role=role,
        user=user,
        expires_at=expires_at,
    )
    plaintext, lookup_id = keys.generate_key(kind)
    pepper_id = keys.current_pepper_id()
    digest = keys.key_digest(plaintext, pepper_id)
    assert digest is not None
    key = ApiKey.objects.create(
        kind=kind,
        lookup_id=lookup_id,
        digest=digest,
        pepper_id=pepper_id,
        name=name,
        organization=organization,
        workspace=workspace,
        role=role,
        user=user,
        created_by=actor
        if actor is not None and getattr(actor, "is_authenticated", False)
        else None,
        expires_at=expires_at,
    )
    audit_record(
        action="api_key.create",
        obj=key,
        actor=actor,
        organization=organization,
        workspace=workspace,
        after=_key_state(key),
    )
    logger.info("created %s key %s", kind, key.display_prefix)
    return CreatedKey(api_key=key, plaintext=plaintext)


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: AbstractBaseUser | None = None) -> ApiKey:
    """Revoke a key now (idempotent). The proxy refuses it within its refresh interval."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        audit_record(
            action="api_key.revoke",
            obj=api_key,
            actor=actor,
            organization=api_key.organization,
            workspace=api_key.workspace,
            before={"revoked": False},
            after={"revoked": True},
        )
    return api_key


def api_key_find(identifier: str) -> ApiKey | None:
    """A key by its plaintext, display prefix (gw_sk_<lookup>), lookup id or numeric id."""
    parsed = keys.parse_key(identifier)
    if parsed is not None:
        return api_key_authenticate(identifier, include_inactive=True)
    ident = identifier.removeprefix(keys.SERVICE_PREFIX).removeprefix(keys.PERSONAL_PREFIX)
    found = ApiKey.objects.filter(lookup_id=ident).first()
    if found is None and identifier.isdigit():
        found = ApiKey.objects.filter(pk=int(identifier)).first()
    return found


def api_key_authenticate(presented: str, *, include_inactive: bool = False) -> ApiKey | None:
    """Resolve a presented key for the Django side (REST API). Unknown, malformed, wrong,
    expired and revoked all give None after the same HMAC work; the proxy has its own table."""
    parsed = keys.parse_key(presented)
    key = None
    if parsed is not None:
        key = (
            ApiKey.objects.select_related("organization", "workspace", "role", "user")
            .filter(lookup_id=parsed.lookup_id, kind=parsed.kind)
            .first()
        )
    if key is None:
        keys.dummy_compare(presented)
        return None
    if not keys.digest_matches(presented, key.pepper_id, key.digest):
        return None
    if not key.is_active:
        # include_inactive serves lookups (gateway_revoke_key); an inactive key is not "used".
        return key if include_inactive else None
    api_key_rehash_if_needed(api_key=key, plaintext=presented)
    api_key_touch(api_key=key)
    return key


def api_key_rehash_if_needed(*, api_key: ApiKey, plaintext: str) -> None:
    """After the pepper rotates, re-hash a key under the newest pepper on its next use."""
    current = keys.current_pepper_id()
    if api_key.pepper_id != current:
        digest = keys.key_digest(plaintext, current)
        ApiKey.objects.filter(pk=api_key.pk).update(digest=digest, pepper_id=current)


def api_key_touch(*, api_key: ApiKey, now: dt.datetime | None = None) -> bool:
    """Write last_used_at at most once per GATEWAY_KEY_LAST_USED_INTERVAL (default 60 s)."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=settings.GATEWAY_KEY_LAST_USED_INTERVAL)
    last = api_key.last_used_at
    if last is not None and last > cutoff:
        return False
    from django.db.models import Q

    updated = (
        ApiKey.objects.filter(pk=api_key.pk)
        .filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=cutoff))
        .update(last_used_at=now)
    )
    api_key.last_used_at = now
    return bool(updated)
