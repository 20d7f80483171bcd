"""Admin: Settings → Gateway → LLM Gateway → Model access, for `organization:manage`.

Scoping (changelist, 404 for outsiders) comes from orgs.admin.scoping, the subject pickers from
policies.admin_mixins; policies.modelaccess.services checks and writes (audit-logged, every
gateway process reloads).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.html import format_html_join

from orgs.admin.scoping import OrganizationScopedAdmin
from policies.admin_mixins import DEFAULT_SUBJECT_FIELDS, PolicySubjectAdminMixin, subject_data
from policies.modelaccess.models import ModelAccessPolicy, ModelAccessRule
from policies.modelaccess.services import (
    model_access_check,
    model_access_delete,
    model_access_save,
)

if TYPE_CHECKING:
    from django.http import HttpRequest


class RuleFormSet(forms.BaseInlineFormSet):
    def rules(self) -> dict[str, str]:
        result: dict[str, str] = {}
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or not data.get("provider"):
                continue
            if data["provider"] in result:
                raise forms.ValidationError(f"{data['provider']} is listed twice")
            result[data["provider"]] = data.get("models") or ""
        return result

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        if not self.rules():
            raise forms.ValidationError("allow the models of at least one provider")


class ModelAccessRuleInline(admin.TabularInline):
    model = ModelAccessRule
    formset = RuleFormSet
    extra = 1
    min_num = 1
    fields = ("provider", "models")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True  # the parent admin decides who may edit the policy

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True


class ModelAccessPolicyForm(forms.ModelForm):
    class Meta:
        model = ModelAccessPolicy
        fields = ("organization", "name", "enabled", "scope", "workspace", "api_key", "user")

    def definition(self) -> dict[str, Any]:
        data = self.cleaned_data
        organization = data.get("organization") or self.instance.organization
        subject = subject_data({**data, "organization": organization}, DEFAULT_SUBJECT_FIELDS)
        return {
            "organization": organization,
            "name": data.get("name") or "",
            "scope": subject["scope"],
            "workspace": subject["workspace"],
            "api_key": subject["api_key"],
            "user": subject["user"],
            "enabled": bool(data.get("enabled")),
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        try:
            model_access_check(
                policy=self.instance if self.instance.pk else None, **self.definition()
            )
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc
        return data

    def _post_clean(self) -> None:
        pass


@admin.register(ModelAccessPolicy)
class ModelAccessPolicyAdmin(PolicySubjectAdminMixin, OrganizationScopedAdmin):
    admin_section = "Settings → Gateway → LLM Gateway"
    required_permission = "organization:manage"
    form = ModelAccessPolicyForm
    inlines = (ModelAccessRuleInline,)
    list_display = ("name", "organization", "scope", "subject", "enabled", "allowed")
    list_filter = ("scope", "enabled")
    search_fields = ("name",)

    @admin.display(description="subject")
    def subject(self, obj: ModelAccessPolicy) -> str:
        return obj.subject_label

    @admin.display(description="allowed models")
    def allowed(self, obj: ModelAccessPolicy) -> str:
        return format_html_join("", "<div>{}</div>", ((str(r),) for r in obj.rules.all()))

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Nothing yet: the policy and its rules are written together in save_related."""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        rules_formset = next(f for f in formsets if isinstance(f, RuleFormSet))
        saved = model_access_save(
            policy=form.instance if change else None,
            models=rules_formset.rules(),
            actor=request.user,
            **form.definition(),
        )
        for field in ModelAccessPolicy._meta.concrete_fields:
            setattr(form.instance, field.attname, getattr(saved, field.attname))
        rules_formset.new_objects = rules_formset.changed_objects = []
        rules_formset.deleted_objects = []

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        model_access_delete(policy=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            model_access_delete(policy=obj, actor=request.user)
