"""API keys in the admin: service keys (create, shown once with the agent files, revoke) and
personal access tokens (listed, revocable). Keys are never edited or deleted here: revoking
keeps the audit trail. Each key says whether the gateway would accept it and why not
(orgs.permissions.key_gateway_problem); its page has a revoke button (with confirmation), its
recent runs (tracing), the spend of the limits it falls under and its effective policies
(policies), through their template tags in admin/orgs/key_change_form.html."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from orgs import services
from orgs.admin.forms import ServiceKeyForm
from orgs.admin.scoping import WorkspaceScopedAdmin
from orgs.models import ApiKey, PersonalAccessToken, ServiceKey
from orgs.permissions import key_gateway_problem

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
    change_form_template = "admin/orgs/key_change_form.html"
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
        "gateway",
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
        if not obj.is_active:
            return "expired"
        return "active" if obj.workspace_id else "active (organization-scoped)"

    @admin.display(description="gateway calls")
    def gateway(self, obj: ApiKey) -> str:
        problem = key_gateway_problem(obj)
        return "accepted" if problem is None else f"refused: {problem}"

    def get_urls(self) -> list[Any]:
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/revoke/",
                self.admin_site.admin_view(self.revoke_view),
                name="{}_{}_revoke".format(*info),
            ),
            *super().get_urls(),
        ]

    def revoke_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET: "Revoke this key?"; POST: revoke it. Outside the user's scope: 404."""
        key = self.get_object(request, object_id)
        if not self.has_revoke_permission(request) or not self.has_view_permission(request, key):
            raise PermissionDenied
        change_url = reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[key.pk]
        )
        if request.method == "POST":
            services.api_key_revoke(api_key=key, actor=request.user)
            messages.success(request, f"Revoked {key.display_prefix}: the gateway refuses it now.")
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Revoke {key.display_prefix}?",
            "opts": self.opts,
            "key": key,
            "back_url": change_url,
            "back_label": key.display_prefix,
        }
        return TemplateResponse(request, "admin/orgs/key_revoke.html", context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        extra = {"may_revoke": self.has_revoke_permission(request), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra)

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
        problem = key_gateway_problem(created.api_key)
        if problem:
            messages.warning(request, f"{created.api_key} cannot call the gateway: {problem}.")

    def response_add(
        self, request: HttpRequest, obj: Any, post_url_continue: Any = None
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": "Service key created",
            "opts": self.opts,
            "key": obj,
            "plaintext": request._gw_created_key,  # type: ignore[attr-defined]
            "gateway_problem": key_gateway_problem(obj),
            "back_url": reverse("admin:orgs_servicekey_changelist"),
            "back_label": "Service keys",
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
