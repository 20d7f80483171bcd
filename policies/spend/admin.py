"""Admin: Settings → Gateway → LLM Gateway → Spend limits (SPEC §3), for `organization:manage`.

Scoping (changelist, 404 for outsiders, choices) comes from orgs.admin.scoping; writes are
validated by spend_services.spend_policy_validate and audit-logged with before/after.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.html import format_html_join

from orgs.admin.scoping import OrganizationScopedAdmin, organization_ids_for
from orgs.models import ApiKey, Organization
from policies.spend.models import SpendPolicy, SpendWindow
from policies.spend.selectors import current_spend, member_spend
from policies.spend.services import (
    spend_policy_audit,
    spend_policy_delete,
    spend_policy_state,
    spend_policy_validate,
)

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse


class SpendWindowInline(admin.TabularInline):
    model = SpendWindow
    extra = 1
    min_num = 1
    fields = ("window", "limit_usd")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True  # the parent admin decides who may edit the policy

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True


class SpendPolicyForm(forms.ModelForm):
    class Meta:
        model = SpendPolicy
        fields = (
            "organization",
            "name",
            "enabled",
            "scope",
            "kind",
            "workspace",
            "api_key",
            "user",
            "unpriced_models",
            "fallback_input_per_mtok",
            "fallback_output_per_mtok",
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        try:
            spend_policy_validate(self.instance if self.instance.pk else self._candidate(data))
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc
        return data

    def _candidate(self, data: dict[str, Any]) -> SpendPolicy:
        return SpendPolicy(**{k: v for k, v in data.items() if k in self.Meta.fields})

    def _post_clean(self) -> None:
        super()._post_clean()  # copies cleaned data to the instance; validate it there too
        if not self.errors and self.instance.pk:
            try:
                spend_policy_validate(self.instance)
            except ValidationError as exc:
                self.add_error(None, exc.messages)


@admin.register(SpendPolicy)
class SpendPolicyAdmin(OrganizationScopedAdmin):
    admin_section = "Settings → Gateway → LLM Gateway"
    required_permission = "organization:manage"
    form = SpendPolicyForm
    inlines = (SpendWindowInline,)
    list_display = ("name", "organization", "scope", "kind", "subject", "enabled", "spend_now")
    list_filter = ("scope", "kind", "enabled")
    search_fields = ("name",)
    readonly_fields = ("spend_now", "members_now")

    @admin.display(description="subject")
    def subject(self, obj: SpendPolicy) -> str:
        if obj.kind == SpendPolicy.Kind.DEFAULT_PER_MEMBER:
            return f"each {obj.get_scope_display().lower()} of {obj.workspace or obj.organization}"
        return str(obj.workspace or obj.api_key or obj.user or obj.organization)

    @admin.display(description="current spend per window")
    def spend_now(self, obj: SpendPolicy) -> str:
        if not obj.pk:
            return "-"
        rows = current_spend(obj)
        if not rows:
            return "no windows"
        return format_html_join(
            "",
            "<div>{}: ${} of ${}{}</div>",
            ((r["window"], f"{r['spent_usd']:.4f}", r["limit_usd"], r["note"]) for r in rows),
        )

    @admin.display(description="members (default per member)")
    def members_now(self, obj: SpendPolicy) -> str:
        """Each materialised member with its spend in the current windows (aggregated)."""
        if not obj.pk or obj.kind != SpendPolicy.Kind.DEFAULT_PER_MEMBER:
            return "-"
        rows = member_spend(obj)
        if not rows:
            return "no member has called yet"
        return format_html_join(
            "",
            "<div>{}: {}</div>",
            (
                (r["member"], ", ".join(f"{w} ${v:.4f}" for w, v in r["windows"].items()) or "$0")
                for r in rows
            ),
        )

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        """Keys and users only from organizations the user manages (never another org's)."""
        org_ids = organization_ids_for(request, self.required_permission)
        if db_field.name == "api_key":
            qs = ApiKey.objects.select_related("workspace")
            kwargs["queryset"] = qs if org_ids is None else qs.filter(organization_id__in=org_ids)
        elif db_field.name == "user":
            qs = get_user_model().objects.all()
            kwargs["queryset"] = (
                qs
                if org_ids is None
                else qs.filter(org_memberships__organization_id__in=org_ids).distinct()
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _warn_if_gateway_off(self, request: HttpRequest) -> None:
        org_ids = organization_ids_for(request, self.required_permission)
        orgs = Organization.objects.filter(llm_gateway_enabled=False)
        if org_ids is not None:
            orgs = orgs.filter(pk__in=org_ids)
        for org in orgs:
            messages.warning(
                request,
                f"The LLM Gateway is not enabled for {org.slug}: its calls are refused (403) and "
                "these limits apply once a superuser turns the gateway on.",
            )

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        if request.method == "GET":
            self._warn_if_gateway_off(request)
        return super().changelist_view(request, extra_context)

    def save_model(self, request: HttpRequest, obj: SpendPolicy, form: Any, change: bool) -> None:
        request._spend_before = (  # type: ignore[attr-defined]
            spend_policy_state(SpendPolicy.objects.get(pk=obj.pk)) if change else None
        )
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        before = getattr(request, "_spend_before", None)
        spend_policy_audit(
            policy=form.instance,
            action="spend_policy.update" if change else "spend_policy.create",
            before=before,
            actor=request.user,
        )

    def delete_model(self, request: HttpRequest, obj: SpendPolicy) -> None:
        spend_policy_delete(policy=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            spend_policy_delete(policy=obj, actor=request.user)
