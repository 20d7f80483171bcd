"""The ORM reads behind proxy.auth.build_table (sync; run in the auth worker thread only)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from hotpath.context import RequestContext
from orgs.models import ApiKey, Organization, OrganizationMember, Workspace, WorkspaceMember
from orgs.permissions import resolve_workspace_permissions
from secrets_vault.crypto import SecretUnreadable
from secrets_vault.models import ProviderSecret
from secrets_vault.services import secret_decrypt

if TYPE_CHECKING:
    from proxy.auth import KeyEntry, UpstreamSecret

logger = logging.getLogger(__name__)


def _service_key_permissions(key: ApiKey) -> frozenset[str]:
    role = key.role
    if role is None:
        return frozenset()
    if role.scope == role.Scope.ORGANIZATION:
        return resolve_workspace_permissions(
            org_role_name=role.name, workspace_role_permissions=None
        )
    return role.permission_set


def _personal_permissions() -> dict[tuple[int, int], frozenset[str]]:
    """(user id, workspace id) -> the user's workspace permissions, as orgs.permissions rules."""
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
    for (user_id, org_id), role_name in org_roles.items():
        # An organization admin has every permission in each workspace, member or not.
        if resolve_workspace_permissions(org_role_name=role_name, workspace_role_permissions=None):
            for ws_id in Workspace.objects.filter(organization_id=org_id).values_list(
                "pk", flat=True
            ):
                result.setdefault(
                    (user_id, ws_id),
                    resolve_workspace_permissions(
                        org_role_name=role_name, workspace_role_permissions=None
                    ),
                )
    return result


def load_keys() -> dict[str, KeyEntry]:
    from proxy.auth import KeyEntry

    orgs = {o.pk: o for o in Organization.objects.all()}
    workspaces = {w.pk: w for w in Workspace.objects.all()}
    personal = _personal_permissions()
    entries: dict[str, KeyEntry] = {}
    for key in ApiKey.objects.filter(revoked_at__isnull=True).select_related("role"):
        org = orgs.get(key.organization_id)
        if org is None:
            continue
        ws = workspaces.get(key.workspace_id) if key.workspace_id else None
        ctx = None
        if ws is not None and ws.organization_id == org.pk:
            if key.kind == ApiKey.Kind.PERSONAL:
                perms = (
                    personal.get((key.user_id, ws.pk), frozenset()) if key.user_id else frozenset()
                )
            else:
                perms = _service_key_permissions(key)
            ctx = RequestContext(
                organization_id=org.pk,
                workspace_id=ws.pk,
                key_id=key.pk,
                key_prefix=key.display_prefix,
                key_kind=key.kind,
                user_id=key.user_id,
                permissions=perms,
                trace_content=ws.trace_content,
                organization_slug=org.slug,
                workspace_slug=ws.slug,
            )
        entries[key.lookup_id] = KeyEntry(
            kind=key.kind,
            digest=key.digest,
            pepper_id=key.pepper_id,
            organization_id=org.pk,
            workspace_id=ws.pk if ctx is not None else None,
            expires_at=key.expires_at.timestamp() if key.expires_at else None,
            org_enabled=org.llm_gateway_enabled,
            ctx=ctx,
        )
    return entries


def load_upstreams() -> dict[int, dict[str, UpstreamSecret]]:
    from proxy.auth import UpstreamSecret

    result: dict[int, dict[str, UpstreamSecret]] = {}
    for secret in ProviderSecret.objects.all():
        try:
            value = secret_decrypt(secret=secret)
        except SecretUnreadable:
            logger.error(
                "provider secret %s of workspace %s does not decrypt; treated as missing",
                secret.name,
                secret.workspace_id,
            )
            continue
        result.setdefault(secret.workspace_id, {})[secret.name] = UpstreamSecret(
            secret=value, base_url=secret.base_url.rstrip("/")
        )
    return result
