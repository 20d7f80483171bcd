"""Admin: Settings → Gateway → LLM Gateway → Redaction policies (SPEC §3), organization:manage.

Scoping (changelist, 404 for outsiders, choices) comes from orgs.admin.scoping; every write
goes through policies.redaction.services (validation, audit log, proxy invalidation).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.forms.models import construct_instance

from orgs.admin.scoping import OrganizationScopedAdmin, organization_ids_for
from orgs.models import ApiKey
from policies.redaction.models import RedactionPolicy
from policies.redaction.rules import rule_choices
from policies.redaction.services import (
    EDITABLE_FIELDS,
    clean_fields,
    redaction_policy_delete,
    redaction_policy_set,
    redaction_subject,
)

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

NER_NOTE = (
    "Person names, street addresses and locations are detected offline (word lists, address "
    "grammars, labels). NRP (nationality, religion, politics) needs an NER model: set "
    "GATEWAY_PII_NLP_MODEL to an installed spaCy model, which also adds its names and places."
)
SUBJECT_FIELDS = ("organization", "scope", "workspace", "api_key", "user")


class RedactionPolicyForm(forms.ModelForm):
    pii_rules = forms.MultipleChoiceField(
        choices=rule_choices("pii"),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=NER_NOTE,
    )
    secret_rules = forms.MultipleChoiceField(
        choices=rule_choices("secrets"), widget=forms.CheckboxSelectMultiple, required=False
    )
    custom_patterns = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        required=False,
        help_text="One NAME=REGEX per line, at most 10. Each is tested against adversarial "
        "input when saved; a slow (catastrophic) pattern is refused.",
    )

    class Meta:
        model = RedactionPolicy
        fields = (*SUBJECT_FIELDS, *EDITABLE_FIELDS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["custom_patterns"] = "\n".join(
                f"{c['name']}={c['pattern']}" for c in self.instance.custom_patterns or ()
            )
        if "name" in self.fields:
            self.fields["name"].required = False

    def clean_custom_patterns(self) -> list[dict[str, str]]:
        items = []
        for line in (self.cleaned_data.get("custom_patterns") or "").splitlines():
            if not line.strip():
                continue
            name, sep, pattern = line.strip().partition("=")
            if not sep:
                raise forms.ValidationError(f"write NAME=REGEX, not {line.strip()!r}")
            items.append({"name": name.strip(), "pattern": pattern})
        return items

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        try:
            if not self.instance.pk:
                redaction_subject(**{k: data.get(k) for k in SUBJECT_FIELDS})
            fields = {k: data[k] for k in EDITABLE_FIELDS if k in data}
            if not fields.get("name"):
                fields.pop("name", None)
            data.update(clean_fields(fields))
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc
        return data

    def _post_clean(self) -> None:
        """Copy the data onto the instance but leave validation to the service (a second policy
        for the same subject updates the existing one, as the CLI does)."""
        self.instance = construct_instance(
            self, self.instance, self._meta.fields, self._meta.exclude
        )


@admin.register(RedactionPolicy)
class RedactionPolicyAdmin(OrganizationScopedAdmin):
    admin_section = "Settings → Gateway → LLM Gateway"
    required_permission = "organization:manage"
    form = RedactionPolicyForm
    list_display = (
        "name",
        "organization",
        "scope",
        "subject",
        "enabled",
        "pii_enabled",
        "secrets_enabled",
        "timeout_ms",
        "on_timeout",
    )
    list_filter = ("scope", "enabled", "pii_enabled", "secrets_enabled")
    search_fields = ("name",)
    fieldsets = (
        (
            "Applies to (the most specific policy wins: API key, user, workspace, organization)",
            {"fields": SUBJECT_FIELDS},
        ),
        ("Policy", {"fields": ("name", "enabled")}),
        ("PII", {"fields": ("pii_enabled", "pii_rules")}),
        ("Secrets", {"fields": ("secrets_enabled", "secret_rules", "custom_patterns")}),
        (
            "Behaviour",
            {"fields": ("scan_system_prompts", "restore_responses", "timeout_ms", "on_timeout")},
        ),
    )

    @admin.display(description="subject")
    def subject(self, obj: RedactionPolicy) -> str:
        return obj.subject_label

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        return fields + list(SUBJECT_FIELDS) if obj is not None else fields

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

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        if request.method == "GET" and not getattr(settings, "GATEWAY_PII_NLP_MODEL", ""):
            messages.info(request, NER_NOTE)
        return super().changelist_view(request, extra_context)

    def save_model(
        self, request: HttpRequest, obj: RedactionPolicy, form: Any, change: bool
    ) -> None:
        data = form.cleaned_data
        subject = (
            {k: getattr(obj, k) for k in SUBJECT_FIELDS}
            if change
            else {k: data.get(k) for k in SUBJECT_FIELDS}
        )
        fields = {k: data[k] for k in EDITABLE_FIELDS if k in data}
        if not fields.get("name"):
            fields.pop("name", None)
        policy = redaction_policy_set(**subject, actor=request.user, **fields)
        obj.pk, obj.name, obj.updated_at = policy.pk, policy.name, policy.updated_at

    def delete_model(self, request: HttpRequest, obj: RedactionPolicy) -> None:
        redaction_policy_delete(policy=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            redaction_policy_delete(policy=obj, actor=request.user)
