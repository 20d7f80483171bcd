"""Settings → Members & roles → Single sign-on: the organization's OpenID Connect provider and
its group mappings. The platform operator (superuser) creates a provider and sets its issuer,
client and e-mail domains; an organization admin (organization:manage) sees it, renames,
enables or disables it, and edits the group mappings. Every write is an accounts.services call
(validated, audit-logged); the client secret is write-only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils.html import format_html

from accounts.models import SsoGroupMapping, SsoProvider
from accounts.oidc import DiscoveryError, discover
from accounts.services import (
    email_domains_check,
    sso_mapping_check,
    sso_mapping_delete,
    sso_mapping_set,
    sso_provider_set,
)
from orgs.admin.scoping import OrganizationScopedAdmin
from orgs.models import Role, Workspace
from orgs.services_invitations import public_url

if TYPE_CHECKING:
    from django.db.models import Model
    from django.http import HttpRequest

OPERATOR_FIELDS = ("issuer", "client_id", "client_secret", "email_domains")


class SsoProviderForm(forms.ModelForm):
    client_secret = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only: stored encrypted and never shown again. Empty keeps the current one.",
    )
    email_domains = forms.CharField(
        help_text="Comma-separated, e.g. acme.com, acme.co.uk: only these addresses sign in here."
    )

    class Meta:
        model = SsoProvider
        fields = (
            "organization",
            "name",
            "enabled",
            "issuer",
            "client_id",
            "groups_claim",
            "scopes",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["email_domains"] = ", ".join(self.instance.email_domains or ())

    def clean_email_domains(self) -> list[str]:
        try:
            return email_domains_check(self.cleaned_data.get("email_domains") or "")
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.instance.pk is None and not data.get("client_secret"):
            self.add_error("client_secret", "A new provider needs its client secret.")
        return data


class MappingFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or not form.has_changed():
                continue
            try:
                sso_mapping_check(
                    provider=self.instance,
                    group=data.get("group") or "",
                    org_role=data.get("org_role"),
                    workspace=data.get("workspace"),
                    workspace_role=data.get("workspace_role"),
                )
            except ValidationError as exc:
                form.add_error(None, exc)


class SsoGroupMappingInline(admin.TabularInline):
    model = SsoGroupMapping
    formset = MappingFormSet
    extra = 1
    fields = ("group", "org_role", "workspace", "workspace_role")

    def _provider_admin_may_change(self, request: HttpRequest, obj: Model | None) -> bool:
        model_admin = admin.site._registry[SsoProvider]
        return model_admin.has_change_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is not None and self._provider_admin_may_change(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._provider_admin_may_change(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._provider_admin_may_change(request, obj)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True  # the parent admin decides who sees the provider

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        if obj is not None:
            fields = formset.form.base_fields
            fields["workspace"].queryset = Workspace.objects.filter(
                organization=obj.organization
            ).select_related("organization")
            fields["workspace_role"].queryset = Role.objects.for_organization(
                obj.organization
            ).filter(scope=Role.Scope.WORKSPACE)
        return formset


@admin.register(SsoProvider)
class SsoProviderAdmin(OrganizationScopedAdmin):
    admin_section = "Settings → Members & roles"
    admin_order = 4
    required_permission = "organization:manage"
    form = SsoProviderForm
    inlines = (SsoGroupMappingInline,)
    list_display = ("organization", "name", "enabled", "issuer", "domains", "mapping_count")
    list_select_related = ("organization",)
    superuser_only_fields = ("issuer", "client_id", "client_secret", "email_domains")
    readonly_fields = ("set_up", "discovery")
    fieldsets = (
        (None, {"fields": ("organization", "name", "enabled")}),
        (
            "Identity provider (set by the platform operator)",
            {
                "fields": (
                    "issuer",
                    "client_id",
                    "client_secret",
                    "email_domains",
                    "groups_claim",
                    "scopes",
                )
            },
        ),
        ("Set-up", {"fields": ("set_up", "discovery")}),
    )

    @admin.display(description="e-mail domains")
    def domains(self, obj: SsoProvider) -> str:
        return ", ".join(obj.email_domains or ())

    @admin.display(description="group mappings")
    def mapping_count(self, obj: SsoProvider) -> int:
        return obj.mappings.count()

    @admin.display(description="register at the identity provider")
    def set_up(self, obj: SsoProvider) -> str:
        # GATEWAY_PUBLIC_URL: the origin members and the identity provider reach the gateway at.
        callback = public_url(reverse("accounts:oidc-callback"))
        start = (
            public_url(reverse("accounts:sso-start", args=[obj.organization.slug]))
            if obj.pk
            else "(after saving)"
        )
        return format_html(
            "Redirect URI: <code>{}</code><br>Sign-in link for members: <code>{}</code>",
            callback,
            start,
        )

    @admin.display(description="discovery")
    def discovery(self, obj: SsoProvider) -> str:
        if not obj.pk:
            return "-"
        try:
            config = discover(obj.issuer)
        except DiscoveryError as exc:
            return format_html('<span class="errornote">{}</span>', str(exc))
        return format_html(
            "OK: authorization <code>{}</code>, token <code>{}</code>",
            config["authorization_endpoint"],
            config["token_endpoint"],
        )

    def get_fieldsets(self, request: HttpRequest, obj: Model | None = None) -> Any:
        fieldsets = list(super().get_fieldsets(request, obj))
        if not request.user.is_superuser:
            # Write-only secret: not even a read-only placeholder for those who cannot set it.
            name, spec = fieldsets[1]
            fields = tuple(f for f in spec["fields"] if f != "client_secret")
            fieldsets[1] = (name, {**spec, "fields": fields})
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "organization"] if obj is not None else fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.cleaned_data
        fields = {k: data[k] for k in ("name", "enabled", "groups_claim", "scopes") if k in data}
        if request.user.is_superuser:
            fields.update({k: data[k] for k in OPERATOR_FIELDS if k in data})
        saved = sso_provider_set(
            organization=obj.organization if change else data["organization"],
            actor=request.user,
            **fields,
        )
        obj.pk = saved.pk

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Mappings are written by accounts.services (audit-logged), never formset.save()."""
        provider = SsoProvider.objects.get(pk=form.instance.pk)
        # What Django's change message reads after formset.save().
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.forms:
            data = getattr(inline_form, "cleaned_data", None)
            if not data:
                continue
            existing = data.get("id")
            if data.get("DELETE"):
                if existing is not None:
                    sso_mapping_delete(mapping=existing, actor=request.user)
                    formset.deleted_objects.append(existing)
                continue
            if not inline_form.has_changed():
                continue
            saved = sso_mapping_set(
                provider=provider,
                group=data["group"],
                org_role=data.get("org_role"),
                workspace=data.get("workspace"),
                workspace_role=data.get("workspace_role"),
                mapping=existing,
                actor=request.user,
            )
            if existing is None:
                formset.new_objects.append(saved)
            else:
                formset.changed_objects.append((saved, inline_form.changed_data))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        raise PermissionDenied("disable the provider instead of deleting it")

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
