"""Tenancy, roles, members, gateway keys and the audit log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

slug_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9-]{0,62}$", "Use lowercase letters, digits and hyphens (max 63)."
)


class BuiltinRoleImmutable(ValidationError):
    """Raised on any attempt to change or delete a built-in role, from any interface."""


class Organization(models.Model):
    class Plan(models.TextChoices):
        BASIC = "basic", "Basic"
        ENTERPRISE = "enterprise", "Enterprise"

    slug = models.SlugField(max_length=63, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200)
    plan = models.CharField(max_length=20, choices=Plan.choices, default=Plan.BASIC)
    llm_gateway_enabled = models.BooleanField(
        "LLM Gateway enabled",
        default=False,
        help_text="Only a superuser (the platform operator) may change this.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("slug",)

    def __str__(self) -> str:
        return self.slug


class Workspace(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="workspaces"
    )
    slug = models.SlugField(max_length=63, validators=[slug_validator])
    name = models.CharField(max_length=200)
    trace_content = models.BooleanField(
        default=False,
        help_text="Store the (redacted) request and response content in traces.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("organization__slug", "slug")
        constraints = [
            models.UniqueConstraint(fields=("organization", "slug"), name="workspace_unique_slug")
        ]

    def __str__(self) -> str:
        return f"{self.organization.slug}/{self.slug}"


class RoleQuerySet(models.QuerySet["Role"]):
    """Bulk update/delete refuse to touch built-in roles, so even raw ORM use cannot alter them."""

    def update(self, **kwargs: Any) -> int:
        if self.filter(builtin=True).exists():
            raise BuiltinRoleImmutable("Built-in roles cannot be changed.")
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        if self.filter(builtin=True).exists():
            raise BuiltinRoleImmutable("Built-in roles cannot be deleted.")
        return super().delete()

    def for_organization(self, organization: Organization) -> RoleQuerySet:
        return self.filter(models.Q(organization=organization) | models.Q(builtin=True))


class Role(models.Model):
    """A named set of permission strings.

    Built-in roles (organization is NULL, builtin=True) are created by a migration and are
    immutable: save() and delete() refuse them once stored, and so does the QuerySet. Custom
    roles are workspace roles owned by one enterprise organization.
    """

    class Scope(models.TextChoices):
        ORGANIZATION = "organization", "Organization"
        WORKSPACE = "workspace", "Workspace"

    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=20, choices=Scope.choices)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, null=True, blank=True, related_name="roles"
    )
    builtin = models.BooleanField(default=False, editable=False)
    permissions = models.JSONField(default=list)
    description = models.CharField(max_length=300, blank=True)

    objects = RoleQuerySet.as_manager()

    class Meta:
        ordering = ("-builtin", "name")
        constraints = [
            models.UniqueConstraint(
                fields=("organization", "name"), name="role_unique_name_per_org"
            ),
            models.UniqueConstraint(
                fields=("name",), condition=models.Q(builtin=True), name="role_unique_builtin_name"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The one piece of logic in save(): immutability must hold for every caller.
        if self.pk and type(self).objects.filter(pk=self.pk, builtin=True).exists():
            raise BuiltinRoleImmutable("Built-in roles cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        if self.builtin:
            raise BuiltinRoleImmutable("Built-in roles cannot be deleted.")
        return super().delete(*args, **kwargs)

    @property
    def permission_set(self) -> frozenset[str]:
        return frozenset(self.permissions or ())


class OrganizationMember(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="org_memberships"
    )
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="org_members")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("organization", "user"), name="org_member_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} as {self.role}"


class WorkspaceMember(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="workspace_memberships"
    )
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="workspace_members")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("workspace", "user"), name="workspace_member_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} as {self.role}"


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def active(self) -> ApiKeyQuerySet:
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )

    def for_workspace(self, workspace: Workspace) -> ApiKeyQuerySet:
        return self.filter(workspace=workspace)


class ApiKey(models.Model):
    """A gateway key: a service key (gw_sk_) or a personal access token (gw_pt_).

    The full key is `gw_sk_<lookup_id>_<secret>`. The database keeps only `lookup_id` (public,
    unique, indexed: it finds the row without a scan) and `digest` = HMAC-SHA256 of the full key
    under the server-side pepper `pepper_id` (settings.GATEWAY_KEY_PEPPERS). A database dump
    therefore holds nothing that authenticates. The plaintext is returned once by
    orgs.services.api_key_create and never stored or logged.
    """

    class Kind(models.TextChoices):
        SERVICE = "service", "Service key"
        PERSONAL = "personal", "Personal access token"

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.SERVICE)
    lookup_id = models.CharField(max_length=32, unique=True, editable=False)
    digest = models.CharField(max_length=64, editable=False)
    pepper_id = models.CharField(max_length=16, editable=False)
    name = models.CharField(max_length=200, blank=True)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="api_keys"
    )
    # NULL workspace = an organization-scoped key (refused by the proxy).
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, null=True, blank=True, related_name="api_keys"
    )
    # Service keys carry a role; personal tokens carry their user's role, so theirs is NULL.
    role = models.ForeignKey(
        Role, on_delete=models.PROTECT, null=True, blank=True, related_name="api_keys"
    )
    # Service key: optional assignee (spend caps per user count it). Personal token: the owner.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="api_keys",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at",)
        verbose_name = "API key"
        indexes = [models.Index(fields=("workspace", "kind"), name="apikey_ws_kind")]

    def __str__(self) -> str:
        return self.display_prefix

    @property
    def display_prefix(self) -> str:
        return f"{'gw_sk_' if self.kind == self.Kind.SERVICE else 'gw_pt_'}{self.lookup_id}"

    @property
    def is_active(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()


class ServiceKey(ApiKey):
    """Admin view of the service keys (kind=service); same table as ApiKey."""

    class Meta:
        proxy = True
        verbose_name = "service key"


class PersonalAccessToken(ApiKey):
    """Admin view of the personal access tokens (kind=personal); same table as ApiKey."""

    class Meta:
        proxy = True
        verbose_name = "personal access token"


class AuditLogEntry(models.Model):
    """Who changed what, when, with before/after values. Secret values are never recorded."""

    organization = models.ForeignKey(
        Organization, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    workspace = models.ForeignKey(
        Workspace, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=100, db_index=True)
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=100, blank=True)
    object_repr = models.CharField(max_length=300, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action}"


def actor_label_for(user: AbstractBaseUser | None, fallback: str = "system") -> str:
    # A non-user actor (the management API's api.authentication.KeyActor) names itself.
    audit_label = getattr(user, "audit_label", None)
    if audit_label:
        return str(audit_label)
    if user is None or not getattr(user, "is_authenticated", False):
        return fallback
    return str(user.get_username())
