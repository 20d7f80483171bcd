"""API keys in the admin: service keys (create, shown once, revoke) and personal access tokens
(listed, revocable). Keys are never edited or deleted here: revoking keeps the audit trail."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Q
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from orgs import services
from orgs.admin.forms import ServiceKeyForm
from orgs.admin.scoping import WorkspaceScopedAdmin
from orgs.models import ApiKey, PersonalAccessToken, ServiceKey

if TYPE_CHECKING:
    from django.db.models import Model, QuerySet
    from django.http import HttpRequest, HttpResponse

KEY_DETAIL_FIELDS = (
    "prefix",
    "name",
    "status",
    "organization",
    "workspace",
    "role",
    "user",
    "created_by",
    "created_at",
    "expires_at",
    "revoked_at",
    "last_used_at",
)


class _KeyAdmin(WorkspaceScopedAdmin):
    admin_section = "API keys"
    organization_field = "organization"
    required_permission = "workspaces:manage"
    kind: str = ApiKey.Kind.SERVICE
    list_display = (
        "prefix",
        "name",
        "workspace",
        "role",
        "user",
        "created_at",
        "expires_at",
        "last_used_at",
        "status",
    )
    list_filter = ("revoked_at",)
    search_fields = ("lookup_id", "name", "user__email")
    list_select_related = ("workspace__organization", "organization", "role", "user")
    actions = ("revoke_keys",)

    @admin.display(description="key", ordering="lookup_id")
    def prefix(self, obj: ApiKey) -> str:
        return obj.display_prefix

    @admin.display(description="status")
    def status(self, obj: ApiKey) -> str:
        if obj.revoked_at is not None:
            return "revoked"
        return "active" if obj.is_active else "expired"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).filter(kind=self.kind)

    def get_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        return KEY_DETAIL_FIELDS

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        return KEY_DETAIL_FIELDS

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        # Existing keys are immutable (view-only page); revoking is the action below.
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request, self.required_permission, None)

    @admin.action(description="Revoke selected keys", permissions=["revoke"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        # `queryset` is already limited by get_queryset to keys in the user's scope.
        count = 0
        for key in queryset.select_related("organization", "workspace"):
            services.api_key_revoke(api_key=key, actor=request.user)
            count += 1
        messages.success(request, f"Revoked {count} key(s). Gateways refuse them within a minute.")


@admin.register(ServiceKey)
class ServiceKeyAdmin(_KeyAdmin):
    """Create: the next page shows the full key once; afterwards only gw_sk_<lookup id>."""

    admin_order = 1
    form = ServiceKeyForm

    def get_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        if obj is None:
            return ("name", "workspace", "role", "assignee", "expires_at")
        return (*KEY_DETAIL_FIELDS, "agent_configuration")

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        return () if obj is None else (*KEY_DETAIL_FIELDS, "agent_configuration")

    @admin.display(description="agent configuration")
    def agent_configuration(self, obj: ApiKey) -> str:
        # Link to the roll-out app's download (rollout/views.py), added by the roll-out part.
        if obj.workspace_id is None:
            return "organization-scoped keys cannot call the gateway"
        url = reverse("rollout:agent-config", args=[obj.pk])
        return format_html('<a href="{}">Claude Code, Codex, Gemini CLI and SDK files</a>', url)

    def get_form(self, request: HttpRequest, obj: Model | None = None, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["fields"] = ("name", "workspace", "role", "expires_at")
        else:
            kwargs["form"] = forms.ModelForm  # existing keys: a read-only page
        return super().get_form(request, obj, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.cleaned_data
        created = services.api_key_create(
            organization=obj.workspace.organization,
            workspace=obj.workspace,
            role=obj.role,
            user=data.get("assignee_user"),
            name=obj.name,
            expires_at=data.get("expires_at"),
            actor=request.user,
        )
        for field in ApiKey._meta.concrete_fields:
            setattr(obj, field.attname, getattr(created.api_key, field.attname))
        # Kept on the request only, for response_add; never in the session or the database.
        request._gw_created_key = created.plaintext  # type: ignore[attr-defined]

    def response_add(
        self, request: HttpRequest, obj: Any, post_url_continue: Any = None
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": "Service key created",
            "opts": self.opts,
            "key": obj,
            "plaintext": request._gw_created_key,  # type: ignore[attr-defined]
            "changelist_url": "../",
        }
        response = TemplateResponse(request, "admin/orgs/key_created.html", context)
        response["Cache-Control"] = "no-store"
        return response


@admin.register(PersonalAccessToken)
class PersonalAccessTokenAdmin(_KeyAdmin):
    """Personal tokens are created by their owner (CLI/API); here they are listed and revocable
    by the workspace's managers, and each user also sees their own."""

    admin_order = 2
    kind = ApiKey.Kind.PERSONAL

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = admin.ModelAdmin.get_queryset(self, request).filter(kind=self.kind)
        if not (request.user.is_authenticated and request.user.is_active):
            return qs.none()
        condition = self.scope_filter(request, self._view_perm())
        if condition is None:
            return qs
        return qs.filter(condition | Q(user=request.user))

    def object_in_scope(self, request: HttpRequest, obj: Model, permission: str) -> bool:
        if getattr(obj, "user_id", None) == request.user.pk:
            return True
        return super().object_in_scope(request, obj, permission)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_module_permission(self, request: HttpRequest) -> bool:
        if super().has_module_permission(request):
            return True
        if not (request.user.is_authenticated and request.user.is_active):
            return False
        return PersonalAccessToken.objects.filter(user=request.user, kind=self.kind).exists()

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if obj is None:
            return super().has_view_permission(request) or self.has_module_permission(request)
        return super().has_view_permission(request, obj)

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return self.has_module_permission(request)
