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
from secrets_vault.models import CustomProvider, ProviderSecret

if TYPE_CHECKING:
    from django.db.models import Model, QuerySet
    from django.http import HttpRequest


class ProviderSecretForm(forms.ModelForm):
    value = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="The provider's API key (for VERTEX_SERVICE_ACCOUNT_JSON, paste the service "
        "account's JSON key file; for AWS_REGION, the region name; for VERTEX_LOCATION, the "
        "Vertex AI location). Write-only: it is encrypted and never shown again. Leave empty to "
        "keep the current value.",
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


def _headers_text(headers: dict[str, str]) -> str:
    return "\n".join(f"{k}: {v}" for k, v in headers.items())


class CustomProviderForm(forms.ModelForm):
    secret = forms.CharField(
        label="New secret",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Optional API key, sent as 'Authorization: Bearer'. Write-only: encrypted and "
        "never shown again. Leave empty to keep the current one.",
    )
    clear_secret = forms.BooleanField(
        required=False, help_text="Remove the stored secret (the server needs none)."
    )
    base_url = forms.URLField(
        label="Base URL",
        max_length=500,
        assume_scheme="https",
        help_text="The URL an OpenAI SDK would use, with its /v1 (http://vllm.internal:8000/v1). "
        "Only a superuser may set an arbitrary host; others only hosts in "
        "GATEWAY_UPSTREAM_ALLOWED_HOSTS.",
    )
    headers_text = forms.CharField(
        label="Extra headers",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One 'Name: value' per line, sent upstream on every call.",
    )
    models_text = forms.CharField(
        label="Models",
        required=False,
        help_text="Comma-separated models callers may name; empty: any model.",
    )
    actor: Any = None  # set by the ModelAdmin for each request

    class Meta:
        model = CustomProvider
        fields = ("workspace", "name", "api", "base_url")
        labels = {"api": "API"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["headers_text"].initial = _headers_text(self.instance.extra_headers)
            self.fields["models_text"].initial = ", ".join(self.instance.model_names)

    def clean_name(self) -> str:
        return services.provider_name_check(name=self.cleaned_data.get("name") or "")

    def clean_secret(self) -> str:
        value = self.cleaned_data.get("secret") or ""
        return services.secret_value_check(value=value) if value else ""

    def clean_base_url(self) -> str:
        base_url = (self.cleaned_data.get("base_url") or "").rstrip("/")
        if base_url == self.instance.base_url:
            return base_url
        try:
            return services.base_url_check(base_url=base_url, actor=self.actor)
        except PermissionDenied as exc:
            raise ValidationError(str(exc)) from exc

    def clean_headers_text(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for line in (self.cleaned_data.get("headers_text") or "").splitlines():
            if not line.strip():
                continue
            name, sep, value = line.partition(":")
            if not sep:
                raise ValidationError(f"'{line.strip()}' is not 'Name: value'")
            headers[name.strip()] = value.strip()
        return services.provider_headers_check(headers=headers)

    def clean_models_text(self) -> list[str]:
        return services.provider_models_check(
            models=(self.cleaned_data.get("models_text") or "").split(",")
        )


@admin.register(CustomProvider)
class CustomProviderAdmin(WorkspaceScopedAdmin):
    admin_section = "Settings → Integrations"
    required_permission = "workspaces:manage"
    form = CustomProviderForm
    list_display = ("name", "workspace", "api", "base_url", "masked", "models_shown", "set_at")
    list_filter = ("api",)
    search_fields = ("name", "workspace__slug", "workspace__organization__slug")
    list_select_related = ("workspace__organization", "set_by")

    @admin.display(description="stored secret")
    def masked(self, obj: CustomProvider) -> str:
        return f"••••{obj.last4}" if obj.has_secret else "none"

    @admin.display(description="models")
    def models_shown(self, obj: CustomProvider) -> str:
        return ", ".join(obj.model_names) or "any"

    @admin.display(description="call it at")
    def path(self, obj: CustomProvider) -> str:
        return f"/providers/{obj.name}/v1"

    def get_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        editable = ("base_url", "secret", "clear_secret", "headers_text", "models_text")
        if obj is None:
            return ("workspace", "name", "api", *editable)
        return ("workspace", "name", "path", "api", "masked", "set_at", "set_by", *editable)

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        if obj is None:
            return ()
        return ("workspace", "name", "path", "masked", "set_at", "set_by")

    def get_form(self, request: HttpRequest, obj: Model | None = None, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, **kwargs)
        form.actor = request.user
        return form

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.cleaned_data
        saved = services.provider_set(
            workspace=obj.workspace,
            name=obj.name,
            api=data.get("api") or CustomProvider.Api.OPENAI,
            base_url=data.get("base_url"),
            secret=data.get("secret") or None,
            clear_secret=bool(data.get("clear_secret")),
            extra_headers=data.get("headers_text") or {},
            models=data.get("models_text") or [],
            actor=request.user,
        )
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        services.provider_delete(provider=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for provider in queryset.select_related("workspace__organization"):
            services.provider_delete(provider=provider, actor=request.user)
