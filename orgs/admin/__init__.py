"""The admin pages of Settings → Gateway, Settings → Workspaces, Settings → Members & roles and
the audit log. Thin adapters: scoping comes from orgs.admin.scoping, every write is an
orgs.services call (audit-logged), never model.save(). API keys are in orgs.admin.keys."""

from __future__ import annotations

import smtplib
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError

from orgs import services
from orgs.admin import keys  # noqa: F401 - registers the key admins
from orgs.admin.forms import (
    OrganizationForm,
    OrganizationMemberForm,
    RoleForm,
    WorkspaceMemberForm,
)
from orgs.admin.scoping import (
    OrganizationScopedAdmin,
    WorkspaceScopedAdmin,
    organization_ids_for,
)
from orgs.models import (
    AuditLogEntry,
    Organization,
    OrganizationMember,
    Role,
    Workspace,
    WorkspaceMember,
)
from orgs.permissions import role_gateway_problem
from orgs.permissions_catalogue import ORGANIZATION_ADMIN
from orgs.selectors import organization_overview

if TYPE_CHECKING:
    from django.db.models import Model, Q, QuerySet
    from django.http import HttpRequest


def _invite(request: HttpRequest, organization: Organization, user: Any) -> None:
    """Send one invitation; a mail server that refuses it is a warning, not a lost membership."""
    try:
        invitation = services.member_invite(
            organization=organization,
            user=user,
            actor=request.user,
            base_url=request.build_absolute_uri("/"),
        )
    except ValidationError as exc:
        messages.warning(request, "; ".join(exc.messages))
    except (OSError, smtplib.SMTPException) as exc:
        messages.warning(
            request, f"{user.get_username()} was added, but the invitation could not be sent: {exc}"
        )
    else:
        messages.success(request, f"Invitation sent to {invitation.email}.")


@admin.register(Organization)
class OrganizationAdmin(OrganizationScopedAdmin):
    """Settings → Gateway: the organization and its LLM Gateway flag (superuser-only). Its page
    also shows its workspaces (members, keys, provider secrets), members, keys and policies
    (admin/orgs/organization_change_form.html, the policies through their template tag)."""

    admin_section = "Settings → Gateway"
    change_form_template = "admin/orgs/organization_change_form.html"
    organization_field = ""
    view_permission = "organization:read"
    form = OrganizationForm
    list_display = ("slug", "name", "plan", "llm_gateway_enabled")
    list_filter = ("plan", "llm_gateway_enabled")
    search_fields = ("slug", "name")
    superuser_only_fields = ("plan", "llm_gateway_enabled")

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "slug"] if obj is not None else fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # no organization deletion from the UI: it would cascade every workspace

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> Any:
        org = self.get_object(request, object_id)
        extra = {
            "overview": organization_overview(organization=org, viewer=request.user),
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.cleaned_data
        saved = services.organization_upsert(
            slug=obj.slug,
            name=data.get("name"),
            plan=data.get("plan"),
            llm_gateway_enabled=data.get("llm_gateway_enabled"),
            actor=request.user,
        )
        obj.pk = saved.pk


@admin.register(Workspace)
class WorkspaceAdmin(WorkspaceScopedAdmin):
    admin_section = "Settings → Workspaces"
    workspace_field = ""
    required_permission = "workspaces:manage"
    view_permission = "workspaces:read"
    list_display = ("__str__", "name", "organization", "trace_content", "created_at")
    list_filter = ("trace_content",)
    search_fields = ("slug", "name", "organization__slug")
    fields = ("organization", "slug", "name", "trace_content")

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "organization", "slug"] if obj is not None else fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        """New workspaces need organization:manage (an organization admin)."""
        if not (request.user.is_authenticated and request.user.is_active):
            return False
        ids = organization_ids_for(request, "organization:manage")
        return ids is None or bool(ids)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # deleting a workspace would drop its keys, secrets and traces

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "organization":
            ids = organization_ids_for(request, "organization:manage")
            qs = Organization.objects.all()
            kwargs["queryset"] = qs if ids is None else qs.filter(pk__in=ids)
            return admin.ModelAdmin.formfield_for_foreignkey(self, db_field, request, **kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        saved = services.workspace_upsert(
            organization=obj.organization,
            slug=obj.slug,
            name=form.cleaned_data.get("name"),
            trace_content=form.cleaned_data.get("trace_content"),
            actor=request.user,
        )
        obj.pk = saved.pk


@admin.register(WorkspaceMember)
class WorkspaceMemberAdmin(WorkspaceScopedAdmin):
    admin_section = "Settings → Members & roles"
    admin_order = 1
    required_permission = "workspaces:manage-members"
    form = WorkspaceMemberForm
    list_display = ("user", "workspace", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__email", "user__username", "workspace__slug")
    list_select_related = ("user", "workspace__organization", "role")

    actions = ("send_invitations",)

    def get_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        if obj is not None:
            return ("workspace", "user", "role")
        return ("email", "workspace", "role", "invite")

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        return ("workspace", "user") if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        user = obj.user if change else services.user_get_or_create(email=form.cleaned_data["email"])
        saved = services.member_set(
            workspace=obj.workspace, user=user, role=obj.role, actor=request.user
        )
        obj.pk, obj.user = saved.pk, user
        if not change and form.cleaned_data.get("invite"):
            _invite(request, obj.workspace.organization, user)

    @admin.action(description="Send an invitation e-mail", permissions=["change"])
    def send_invitations(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for member in queryset.select_related("workspace__organization", "user"):
            _invite(request, member.workspace.organization, member.user)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        services.member_remove(workspace=obj.workspace, user=obj.user, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for member in queryset:
            self.delete_model(request, member)


@admin.register(OrganizationMember)
class OrganizationMemberAdmin(OrganizationScopedAdmin):
    admin_section = "Settings → Members & roles"
    admin_order = 2
    form = OrganizationMemberForm
    list_display = ("user", "organization", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__email", "user__username", "organization__slug")
    list_select_related = ("user", "organization", "role")

    actions = ("send_invitations",)

    def get_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        if obj is not None:
            return ("organization", "user", "role")
        return ("email", "organization", "role", "invite")

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        return ("organization", "user") if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        user = obj.user if change else services.user_get_or_create(email=form.cleaned_data["email"])
        saved = services.org_member_set(
            organization=obj.organization, user=user, role=obj.role, actor=request.user
        )
        obj.pk, obj.user = saved.pk, user
        if not change and form.cleaned_data.get("invite"):
            _invite(request, obj.organization, user)

    @admin.action(description="Send an invitation e-mail", permissions=["change"])
    def send_invitations(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for member in queryset.select_related("organization", "user"):
            _invite(request, member.organization, member.user)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        services.org_member_remove(organization=obj.organization, user=obj.user, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for member in queryset:
            self.delete_model(request, member)


@admin.register(Role)
class RoleAdmin(OrganizationScopedAdmin):
    """Built-in roles are listed for everyone and editable by no one (superusers included);
    custom roles are created per organization on the enterprise plan."""

    admin_section = "Settings → Members & roles"
    admin_order = 3
    form = RoleForm
    view_permission = "organization:read"
    list_display = ("name", "scope", "organization", "builtin", "permission_list", "gateway")
    list_filter = ("builtin", "scope")
    search_fields = ("name",)

    @admin.display(description="permissions")
    def permission_list(self, obj: Role) -> str:
        return ", ".join(obj.permissions or ())

    @admin.display(description="gateway calls")
    def gateway(self, obj: Role) -> str:
        """Whether keys holding this role may call the gateway, and why not."""
        if obj.scope == Role.Scope.ORGANIZATION:
            if obj.name == ORGANIZATION_ADMIN:
                return "yes (full rights in every workspace)"
            return "not by itself (a workspace role decides)"
        problem = role_gateway_problem(obj.permission_set)
        if problem:
            return f"no: {problem}"
        return "yes" if "gateway:invoke" in obj.permission_set else "no (read-only role)"

    def scope_filter(self, request: HttpRequest, permission: str) -> Q | None:
        from django.db.models import Q

        condition = super().scope_filter(request, permission)
        return None if condition is None else condition | Q(builtin=True)

    def object_in_scope(self, request: HttpRequest, obj: Model, permission: str) -> bool:
        if getattr(obj, "builtin", False):
            return permission == self._view_perm()
        return super().object_in_scope(request, obj, permission)

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        if obj is not None and getattr(obj, "builtin", False):
            return ("name", "scope", "permission_list", "description")
        return ("organization", "name") if obj is not None else ()

    def get_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        if obj is not None and getattr(obj, "builtin", False):
            return ("name", "scope", "permission_list", "description")
        return ("organization", "name", "description", "permissions")

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if obj is not None and getattr(obj, "builtin", False):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if obj is not None and getattr(obj, "builtin", False):
            return False
        return super().has_delete_permission(request, obj)

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> Any:
        """Say up front when none of the user's organizations may have custom roles."""
        ids = organization_ids_for(request, "organization:manage")
        orgs = (
            Organization.objects.all() if ids is None else Organization.objects.filter(pk__in=ids)
        )
        if request.method == "GET" and not orgs.filter(plan=Organization.Plan.ENTERPRISE).exists():
            messages.warning(request, services.CUSTOM_ROLES_NEED_ENTERPRISE)
        return super().add_view(request, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        saved = services.role_upsert(
            organization=obj.organization,
            name=obj.name,
            permissions=list(form.cleaned_data["permissions"]),
            description=form.cleaned_data.get("description") or "",
            actor=request.user,
        )
        obj.pk = saved.pk
        problem = role_gateway_problem(saved.permission_set)
        if problem:
            messages.warning(request, f"Keys with {saved.name} cannot call the gateway: {problem}.")

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        services.role_delete(role=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for role in queryset:
            try:
                services.role_delete(role=role, actor=request.user)
            except (ValidationError, PermissionDenied) as exc:
                messages.error(request, "; ".join(getattr(exc, "messages", [str(exc)])))


@admin.register(AuditLogEntry)
class AuditLogAdmin(WorkspaceScopedAdmin):
    """Read-only: workspace entries for that workspace's managers, organization entries for
    organization managers, everything for superusers. Nobody adds, edits or deletes."""

    admin_section = "Audit log"
    organization_field = "organization"
    required_permission = "workspaces:manage"
    list_display = (
        "created_at",
        "actor_label",
        "action",
        "object_type",
        "object_repr",
        "organization",
        "workspace",
    )
    list_filter = ("action", "object_type")
    search_fields = ("actor_label", "action", "object_repr")
    date_hierarchy = "created_at"
    list_select_related = ("organization", "workspace__organization")
    fields = (
        "created_at",
        "actor_label",
        "action",
        "object_type",
        "object_id",
        "object_repr",
        "organization",
        "workspace",
        "before",
        "after",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
