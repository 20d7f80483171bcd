"""The database reads behind the proxy's key and secret snapshots (sync ORM: they run in the
snapshot loader thread, hotpath.snapshot, never on the event loop)."""

from __future__ import annotations

import logging

from hotpath.context import RequestContext
from orgs.keys import peppers
from orgs.models import ApiKey, Organization, Workspace
from orgs.permissions import key_grants, user_grants_by_workspace
from proxy.auth import KeyEntry, KeyTable, SecretTable, UpstreamSecret
from proxy.routing import custom_secret
from secrets_vault.crypto import SecretUnreadable
from secrets_vault.models import CustomProvider, ProviderSecret
from secrets_vault.services import provider_secret_decrypt, secret_decrypt

logger = logging.getLogger(__name__)


def load_key_table() -> KeyTable:
    """Every live key with its caller context; revoked keys are left out (one identical 401)."""
    orgs = {o.pk: o for o in Organization.objects.all()}
    workspaces = {w.pk: w for w in Workspace.objects.all()}
    users = user_grants_by_workspace()
    entries: dict[str, KeyEntry] = {}
    for key in ApiKey.objects.filter(revoked_at__isnull=True).select_related("role"):
        org = orgs.get(key.organization_id)
        if org is None:
            continue
        ws = workspaces.get(key.workspace_id) if key.workspace_id else None
        ctx = None
        if ws is not None and ws.organization_id == org.pk:
            role = key.role
            grants = key_grants(
                kind=key.kind,
                role_scope=role.scope if role else None,
                role_name=role.name if role else None,
                role_permissions=role.permission_set if role else frozenset(),
                user_grants=users.get((key.user_id, ws.pk), frozenset())
                if key.user_id
                else frozenset(),
            )
            ctx = RequestContext(
                organization_id=org.pk,
                workspace_id=ws.pk,
                key_id=key.pk,
                key_prefix=key.display_prefix,
                key_kind=key.kind,
                user_id=key.user_id,
                permissions=grants,
                trace_content=ws.trace_content,
                organization_slug=org.slug,
                workspace_slug=ws.slug,
            )
        entries[key.lookup_id] = KeyEntry(
            key_id=key.pk,
            kind=key.kind,
            digest=key.digest,
            pepper_id=key.pepper_id,
            organization_id=org.pk,
            workspace_id=ws.pk if ctx is not None else None,
            expires_at=key.expires_at.timestamp() if key.expires_at else None,
            org_enabled=org.llm_gateway_enabled,
            ctx=ctx,
        )
    return KeyTable(keys=entries, peppers=peppers())


def load_secret_table() -> SecretTable:
    """Every workspace's decrypted provider secrets and custom providers (a secret that does not
    decrypt is treated as missing: the call gets 424 (404 for a custom provider), and the error
    is logged without the value)."""
    result: SecretTable = {}
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
    for provider in CustomProvider.objects.all():
        try:
            value = provider_secret_decrypt(provider=provider)
        except SecretUnreadable:
            logger.error(
                "the secret of custom provider %s of workspace %s does not decrypt; "
                "the provider is treated as missing",
                provider.name,
                provider.workspace_id,
            )
            continue
        result.setdefault(provider.workspace_id, {})[custom_secret(provider.name)] = UpstreamSecret(
            secret=value,
            base_url=provider.base_url.rstrip("/"),
            headers=tuple((str(k), str(v)) for k, v in provider.extra_headers.items()),
            models=frozenset(provider.model_names),
        )
    return result
