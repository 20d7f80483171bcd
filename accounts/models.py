"""Single sign-on per organization (OpenID Connect) and how its groups map to roles.

An organization may sign its members in through its own identity provider (Okta, Entra ID,
Google Workspace, Keycloak, ...): one `SsoProvider` holds the issuer and the client the
gateway is registered as. Users are matched or created by their verified e-mail, within the
e-mail domains the platform operator allowed for that organization, and the groups the
identity provider sends are turned into organization and workspace roles by `SsoGroupMapping`
rows at every sign-in (accounts.services.sso_sign_in). Written only through accounts.services.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from orgs.models import Organization, Role, Workspace


class SsoProvider(models.Model):
    """The OpenID Connect provider of one organization.

    `issuer` is the provider's issuer URL; its endpoints come from
    `<issuer>/.well-known/openid-configuration` (discovery). The client secret is stored
    encrypted (secrets_vault.crypto, the provider secrets' keys) and is write-only.
    `email_domains` bounds whom this provider may sign in: an identity provider vouches only
    for its own company's addresses, so it can never sign in as a member of another
    organization with another domain.
    """

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="sso_provider"
    )
    name = models.CharField(
        "button label", max_length=100, default="Single sign-on", help_text="Shown to members."
    )
    enabled = models.BooleanField(default=True)
    issuer = models.URLField(
        max_length=500, help_text="e.g. https://login.example.com/realms/acme (no trailing path)."
    )
    client_id = models.CharField(max_length=300)
    client_secret_ciphertext = models.TextField(editable=False)
    email_domains = models.JSONField(
        default=list,
        help_text="E-mail domains this provider may sign in (e.g. acme.com). Set by the operator.",
    )
    groups_claim = models.CharField(
        max_length=100, default="groups", help_text="The claim that lists the user's groups."
    )
    scopes = models.CharField(max_length=300, default="openid email profile groups")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "single sign-on provider"

    def __str__(self) -> str:
        return f"{self.name} ({self.organization.slug})"


class SsoGroupMapping(models.Model):
    """Members of the identity provider's `group` get an organization role, a workspace role,
    or both, at each sign-in. Workspaces named by a mapping are managed by the identity provider
    for its users: a user in none of the groups that map to such a workspace loses their role
    there at the next sign-in."""

    provider = models.ForeignKey(SsoProvider, on_delete=models.CASCADE, related_name="mappings")
    group = models.CharField(
        max_length=300, help_text="Group name as the identity provider sends it."
    )
    org_role = models.ForeignKey(
        Role,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="organization role",
        limit_choices_to={"scope": "organization", "builtin": True},
    )
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    workspace_role = models.ForeignKey(
        Role,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        limit_choices_to={"scope": "workspace"},
    )

    class Meta:
        ordering = ("group", "id")
        verbose_name = "group mapping"

    def __str__(self) -> str:
        parts = []
        if self.org_role_id:
            parts.append(f"{self.org_role} in the organization")
        if self.workspace_id:
            parts.append(f"{self.workspace_role} in {self.workspace}")
        return f"{self.group} → {', '.join(parts) or 'nothing'}"
