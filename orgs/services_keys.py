"""Writes and lookups for gateway keys (service keys and personal access tokens).

Re-exported by orgs.services, which is where callers import them from.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from hotpath import changes
from orgs import keys
from orgs.audit import audit_record
from orgs.models import ApiKey, OrganizationMember, Role

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from orgs.models import Organization, Workspace

logger = logging.getLogger(__name__)


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
    if not keys.verify_key(presented, kind=key.kind, digest=key.digest, pepper_id=key.pepper_id):
        return None
    if not key.is_active:
        # include_inactive serves lookups (gateway_revoke_key); an inactive key is not "used".
        return key if include_inactive else None
    if key.pepper_id != keys.current_pepper_id():
        api_key_rehash(key_id=key.pk, plaintext=presented, from_pepper_id=key.pepper_id)
    api_key_touch(api_key=key)
    return key


def api_key_rehash(*, key_id: int, plaintext: str, from_pepper_id: str) -> bool:
    """Re-hash a key under the newest pepper, after it was verified under `from_pepper_id`
    (called wherever a key is used: the REST API here, the proxy from its recorder thread, so
    a key used only through the proxy survives the removal of its old pepper).

    Conditional on the stored pepper still being `from_pepper_id`, so concurrent uses re-hash
    once; the proxies' key tables reload with the new digest."""
    current = keys.current_pepper_id()
    if from_pepper_id == current:
        return False
    digest = keys.key_digest(plaintext, current)
    updated = ApiKey.objects.filter(pk=key_id, pepper_id=from_pepper_id).update(
        digest=digest, pepper_id=current
    )
    if updated:
        changes.announce("keys")
        logger.info("re-hashed key %s under pepper %s", key_id, current)
    return bool(updated)


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
