"""Settings → Integrations → Provider secrets. Write-only: the value field is a password input
that is never rendered back; lists and pages show only the last 4 characters and when it was
set. Every write is a secrets_vault.services call (encrypted, audit-logged)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError

from orgs.admin.scoping import WorkspaceScopedAdmin
from secrets_vault import services
from secrets_vault.models import ProviderSecret

if TYPE_CHECKING:
    from django.db.models import Model, QuerySet
    from django.http import HttpRequest


class ProviderSecretForm(forms.ModelForm):
    value = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="The provider's API key (for VERTEX_SERVICE_ACCOUNT_JSON, paste the service "
        "account's JSON key file; for AWS_REGION, the region name). Write-only: it is encrypted "
        "and never shown again. Leave empty to keep the current value.",
    )
    base_url = forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text="Optional upstream origin for this provider (no /v1). Only a superuser may "
        "set an arbitrary host; others only hosts in GATEWAY_UPSTREAM_ALLOWED_HOSTS.",
    )
    actor: Any = None  # set by the ModelAdmin for each request

    class Meta:
        model = ProviderSecret
        fields = ("workspace", "name", "value", "base_url")

    def clean_value(self) -> str:
        value = self.cleaned_data.get("value") or ""
        if not value:
            if self.instance.pk is None:
                raise ValidationError("A new provider secret needs a value.")
            return ""
        name = self.cleaned_data.get("name") or self.instance.name
        return services.secret_value_check(value=value, name=name)

    def clean_base_url(self) -> str:
        base_url = self.cleaned_data.get("base_url") or ""
        if not base_url or base_url.rstrip("/") == self.instance.base_url:
            return base_url.rstrip("/")
        try:
            return services.base_url_check(base_url=base_url, actor=self.actor)
        except PermissionDenied as exc:
            raise ValidationError(str(exc)) from exc


@admin.register(ProviderSecret)
class ProviderSecretAdmin(WorkspaceScopedAdmin):
    admin_section = "Settings → Integrations"
    required_permission = "workspaces:manage"
    form = ProviderSecretForm
    list_display = ("name", "workspace", "masked", "set_at", "base_url", "set_by")
    list_filter = ("name",)
    search_fields = ("workspace__slug", "workspace__organization__slug")
    list_select_related = ("workspace__organization", "set_by")

    @admin.display(description="value")
    def masked(self, obj: ProviderSecret) -> str:
        return f"••••{obj.last4}"

    def get_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        if obj is None:
            return ("workspace", "name", "value", "base_url")
        return ("workspace", "name", "masked", "set_at", "set_by", "value", "base_url")

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        if obj is None:
            return ()
        return ("workspace", "name", "masked", "set_at", "set_by")

    def get_form(self, request: HttpRequest, obj: Model | None = None, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, **kwargs)
        form.actor = request.user
        return form

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        value = form.cleaned_data.get("value") or None
        saved = services.secret_set(
            workspace=obj.workspace,
            name=obj.name,
            value=value,
            base_url=form.cleaned_data.get("base_url", ""),
            actor=request.user,
        )
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        services.secret_delete(secret=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for secret in queryset.select_related("workspace__organization"):
            services.secret_delete(secret=secret, actor=request.user)
