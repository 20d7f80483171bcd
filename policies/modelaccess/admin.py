"""Admin: Settings → Gateway → LLM Gateway → Model access, for `organization:manage`.

Scoping (changelist, 404 for outsiders) comes from orgs.admin.scoping, the subject pickers from
policies.admin_mixins; policies.modelaccess.services checks and writes (audit-logged, every
gateway process reloads).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin
from django.utils.html import format_html_join

from orgs.admin.scoping import OrganizationScopedAdmin
from policies.admin_mixins import (
    PolicyDefinitionForm,
    PolicyPartInline,
    PolicySubjectAdminMixin,
    ServiceWrittenPolicyAdminMixin,
)
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


class ModelAccessRuleInline(PolicyPartInline):
    model = ModelAccessRule
    formset = RuleFormSet
    fields = ("provider", "models")


class ModelAccessPolicyForm(PolicyDefinitionForm):
    check = staticmethod(model_access_check)

    class Meta:
        model = ModelAccessPolicy
        fields = ("organization", "name", "enabled", "scope", "workspace", "api_key", "user")


@admin.register(ModelAccessPolicy)
class ModelAccessPolicyAdmin(
    ServiceWrittenPolicyAdminMixin, PolicySubjectAdminMixin, OrganizationScopedAdmin
):
    delete_service = staticmethod(model_access_delete)
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
