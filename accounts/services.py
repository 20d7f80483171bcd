"""Writes for sign-in: single sign-on providers and their group mappings (audit-logged), and
the sign-in of a user an identity provider vouched for (roles synchronised through
orgs.services, so memberships stay audit-logged and every gateway process sees the change).

Invitations (the first sign-in of a member added by an administrator) are orgs.services
.member_invite: they belong to the membership, and the admin, the CLI and the API send them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import SsoGroupMapping, SsoProvider
from orgs import services as org_services
from orgs.models import OrganizationMember, Role, WorkspaceMember
from secrets_vault import crypto
from secrets_vault.services import ciphertexts_rotate

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from orgs.models import Organization, Workspace


class SsoRefused(Exception):
    """A sign-in the gateway refuses; the message is shown to the person signing in."""


@dataclass(frozen=True)
class SsoActor:
    """The actor of role changes made by a sign-in: the organization's identity provider, named
    in the audit log, never a user (no user foreign key, no operator rights)."""

    organization_slug: str
    is_authenticated: bool = False
    is_superuser: bool = False
    is_active: bool = True

    @property
    def audit_label(self) -> str:
        return f"single sign-on of {self.organization_slug}"

    def get_username(self) -> str:
        return self.audit_label


# -- providers ---------------------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def sso_issuer_check(issuer: str) -> str:
    """An https issuer URL (http only on loopback, for a provider on the same host), without a
    query, fragment or credentials, and without a trailing slash."""
    issuer = issuer.strip().rstrip("/")
    parsed = urlparse(issuer)
    if not parsed.hostname or parsed.scheme not in ("https", "http"):
        raise ValidationError("the issuer must be an https URL")
    if parsed.scheme == "http" and not _is_loopback(parsed.hostname):
        raise ValidationError("the issuer must be an https URL (http only on loopback)")
    if parsed.username or parsed.password or parsed.query or parsed.fragment:
        raise ValidationError("the issuer must not carry credentials, a query or a fragment")
    return issuer


def email_domains_check(domains: list[str] | str) -> list[str]:
    if isinstance(domains, str):
        domains = domains.replace(",", " ").split()
    clean = sorted({d.strip().lower().lstrip("@") for d in domains if d.strip()})
    if not clean:
        raise ValidationError("name at least one e-mail domain this provider may sign in")
    for domain in clean:
        if "." not in domain or "@" in domain or " " in domain:
            raise ValidationError(f"not an e-mail domain: {domain!r}")
    return clean


def _provider_state(provider: SsoProvider) -> dict[str, Any]:
    return {
        "name": provider.name,
        "enabled": provider.enabled,
        "issuer": provider.issuer,
        "client_id": provider.client_id,
        "email_domains": provider.email_domains,
        "groups_claim": provider.groups_claim,
        "scopes": provider.scopes,
    }


_OPERATOR_FIELDS = ("issuer", "client_id", "client_secret", "email_domains")


@transaction.atomic
def sso_provider_set(
    *,
    organization: Organization,
    actor: AbstractBaseUser | None = None,
    **fields: Any,
) -> SsoProvider:
    """Create or update the organization's provider; audit-logged (never the client secret).

    The issuer, the client and the e-mail domains decide whom the provider may sign in, so
    only the platform operator (a superuser, or the CLI with actor=None) sets them; an
    organization admin may rename, enable or disable it and edit the group mappings."""
    unknown = set(fields) - {"name", "enabled", "groups_claim", "scopes", *_OPERATOR_FIELDS}
    if unknown:
        raise ValidationError(f"unknown fields: {', '.join(sorted(unknown))}")
    provider = SsoProvider.objects.select_for_update().filter(organization=organization).first()
    is_operator = actor is None or getattr(actor, "is_superuser", False)
    before = None if provider is None else _provider_state(provider)
    changing = {
        k
        for k in _OPERATOR_FIELDS
        if k in fields
        and (k == "client_secret" or provider is None or getattr(provider, k) != fields[k])
    }
    if (provider is None or changing) and not is_operator:
        raise PermissionDenied(
            "only the platform operator sets a single sign-on provider's issuer, client and "
            "e-mail domains"
        )
    if provider is None:
        missing = [k for k in _OPERATOR_FIELDS if not fields.get(k)]
        if missing:
            raise ValidationError(f"a new provider needs {', '.join(missing)}")
        provider = SsoProvider(organization=organization)
    if "issuer" in fields:
        provider.issuer = sso_issuer_check(fields["issuer"])
    if "client_id" in fields:
        provider.client_id = str(fields["client_id"]).strip()
    if fields.get("client_secret"):
        provider.client_secret_ciphertext = crypto.encrypt(str(fields["client_secret"]).strip())
    if "email_domains" in fields:
        provider.email_domains = email_domains_check(fields["email_domains"])
    for name in ("name", "enabled", "groups_claim", "scopes"):
        if name in fields and fields[name] is not None:
            setattr(provider, name, fields[name])
    if "openid" not in provider.scopes.split():
        raise ValidationError("the scopes must include openid")
    if not provider.client_id:
        raise ValidationError("the provider needs a client id")
    provider.updated_at = timezone.now()
    provider.full_clean(exclude=["organization", "client_secret_ciphertext"])
    provider.save()
    after = _provider_state(provider)
    if before != after or "client_secret" in changing:
        org_services.audit_record(
            action="sso_provider.create" if before is None else "sso_provider.update",
            obj=provider,
            actor=actor,
            organization=organization,
            before=before,
            after={**after, "client_secret_changed": "client_secret" in changing},
        )
    return provider


def sso_client_secret(provider: SsoProvider) -> str:
    """The decrypted client secret, for the token request only."""
    return crypto.decrypt(provider.client_secret_ciphertext)


def sso_mapping_check(
    *,
    provider: SsoProvider,
    group: str,
    org_role: Role | None,
    workspace: Workspace | None,
    workspace_role: Role | None,
) -> None:
    """The rules every group mapping obeys; the admin form calls it to show errors inline."""
    org = provider.organization
    if not group.strip():
        raise ValidationError("a mapping needs the identity provider's group name")
    if org_role is None and workspace is None:
        raise ValidationError("map the group to an organization role, a workspace role, or both")
    if org_role is not None and (org_role.scope != Role.Scope.ORGANIZATION or not org_role.builtin):
        raise ValidationError(f"{org_role.name} is not an organization role")
    if (workspace is None) != (workspace_role is None):
        raise ValidationError("a workspace mapping needs both the workspace and its role")
    if workspace is not None and workspace_role is not None:
        if workspace.organization_id != org.pk:
            raise ValidationError(f"{workspace} belongs to another organization")
        org_services.member_check(workspace=workspace, role=workspace_role)


def _mapping_state(mapping: SsoGroupMapping) -> dict[str, Any]:
    return {
        "group": mapping.group,
        "org_role": mapping.org_role.name if mapping.org_role_id else None,
        "workspace": str(mapping.workspace) if mapping.workspace_id else None,
        "workspace_role": mapping.workspace_role.name if mapping.workspace_role_id else None,
    }


@transaction.atomic
def sso_mapping_set(
    *,
    provider: SsoProvider,
    group: str,
    org_role: Role | None = None,
    workspace: Workspace | None = None,
    workspace_role: Role | None = None,
    mapping: SsoGroupMapping | None = None,
    actor: AbstractBaseUser | None = None,
) -> SsoGroupMapping:
    """Create a group mapping, or update `mapping`; audit-logged. Applies at each sign-in."""
    group = group.strip()
    sso_mapping_check(
        provider=provider,
        group=group,
        org_role=org_role,
        workspace=workspace,
        workspace_role=workspace_role,
    )
    before = None if mapping is None or mapping.pk is None else _mapping_state(mapping)
    mapping = mapping or SsoGroupMapping(provider=provider)
    mapping.provider = provider
    mapping.group, mapping.org_role, mapping.workspace = group, org_role, workspace
    mapping.workspace_role = workspace_role
    mapping.save()
    org_services.audit_record(
        action="sso_mapping.create" if before is None else "sso_mapping.update",
        obj=mapping,
        actor=actor,
        organization=provider.organization,
        before=before,
        after=_mapping_state(mapping),
    )
    return mapping


@transaction.atomic
def sso_mapping_delete(*, mapping: SsoGroupMapping, actor: AbstractBaseUser | None = None) -> None:
    org_services.audit_record(
        action="sso_mapping.delete",
        obj=mapping,
        actor=actor,
        organization=mapping.provider.organization,
        before=_mapping_state(mapping),
    )
    mapping.delete()


# -- sign-in -----------------------------------------------------------------------------------


def sso_provider_for_email(email: str) -> SsoProvider | None:
    """The enabled provider whose e-mail domains include `email`'s domain."""
    domain = email.strip().rpartition("@")[2].lower()
    if not domain:
        return None
    for provider in SsoProvider.objects.filter(enabled=True).select_related("organization"):
        if domain in provider.email_domains:
            return provider
    return None


def _groups(claims: dict[str, Any], claim: str) -> set[str]:
    value = claims.get(claim) or []
    if isinstance(value, str):
        value = [value]
    return {str(g) for g in value if isinstance(g, str | int)}


def _strongest(roles: list[Role]) -> Role | None:
    """Of several roles granted by different groups, the one with the most permissions."""
    return max(roles, key=lambda r: (len(r.permission_set), r.name), default=None)


def _email_verified(claims: dict[str, Any]) -> bool:
    value = claims.get("email_verified")
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _sync_roles(
    *, provider: SsoProvider, user: AbstractBaseUser, matched: list[SsoGroupMapping]
) -> None:
    """Give `user` what the matched mappings grant, and take away roles in the workspaces the
    provider's mappings manage that no matched mapping grants any more."""
    org = provider.organization
    actor = SsoActor(organization_slug=org.slug)
    org_role = _strongest([m.org_role for m in matched if m.org_role is not None])
    if org_role is not None:
        org_services.org_member_set(organization=org, user=user, role=org_role, actor=actor)
    by_workspace: dict[int, list[SsoGroupMapping]] = {}
    managed: dict[int, Workspace] = {}
    for mapping in provider.mappings.select_related("workspace__organization", "workspace_role"):
        if mapping.workspace is not None:
            managed[mapping.workspace.pk] = mapping.workspace
    for mapping in matched:
        if mapping.workspace_id is not None:
            by_workspace.setdefault(mapping.workspace_id, []).append(mapping)
    for ws_id, workspace in managed.items():
        granted = _strongest([m.workspace_role for m in by_workspace.get(ws_id, [])])  # type: ignore[misc]
        if granted is not None:
            org_services.member_set(workspace=workspace, user=user, role=granted, actor=actor)
        elif WorkspaceMember.objects.filter(workspace=workspace, user=user).exists():
            org_services.member_remove(workspace=workspace, user=user, actor=actor)


def sso_sign_in(*, provider: SsoProvider, claims: dict[str, Any]) -> AbstractBaseUser:
    """The user an identity provider vouched for, with roles from its groups; SsoRefused (with
    a message for the person) when the gateway will not sign them in.

    Matched or created by e-mail, only when the provider says the e-mail is verified and its
    domain is one of the provider's. A platform operator (superuser) never signs in through an
    organization's provider. A user none of whose groups is mapped is refused; an existing
    user then also loses the roles the mappings manage (leaving the group in the identity
    provider ends the access)."""
    org = provider.organization
    email = str(claims.get("email") or "").strip()
    if "@" not in email:
        raise SsoRefused("The identity provider sent no e-mail address.")
    if not _email_verified(claims):
        raise SsoRefused(f"The identity provider has not verified {email}.")
    domain = email.rpartition("@")[2].lower()
    if domain not in provider.email_domains:
        raise SsoRefused(f"{org.name}'s single sign-on does not sign in addresses at {domain}.")
    users = list(get_user_model().objects.filter(email__iexact=email)[:2])
    if len(users) > 1:
        raise SsoRefused(f"Several accounts use {email}; ask the platform operator.")
    user = users[0] if users else None
    if user is not None and user.is_superuser:
        raise SsoRefused("Platform operators sign in with their password.")
    if user is not None and not user.is_active:
        raise SsoRefused("This account is disabled.")
    groups = _groups(claims, provider.groups_claim)
    mappings = provider.mappings.select_related("org_role", "workspace", "workspace_role")
    matched = [m for m in mappings if m.group in groups]
    if not matched:
        if user is not None:
            with transaction.atomic():
                _sync_roles(provider=provider, user=user, matched=[])
        raise SsoRefused(
            f"None of your groups gives access to {org.name}; ask an administrator of "
            f"{org.name} to map one of them to a role."
        )
    with transaction.atomic():
        if user is None:
            user = org_services.user_get_or_create(email=email)
        _sync_roles(provider=provider, user=user, matched=matched)
        if not OrganizationMember.objects.filter(organization=org, user=user).exists():
            raise SsoRefused(f"None of your groups gives access to {org.name}.")
    return user


def sso_secrets_rotate() -> int:
    """Re-encrypt every single sign-on client secret under the newest GATEWAY_SECRETS_KEYS key
    (run by `gateway_rotate_secrets` with the provider secrets); the number of rows."""
    return ciphertexts_rotate(model=SsoProvider, field="client_secret_ciphertext")
