"""Admin: Settings → Gateway → LLM Gateway → Redaction policies, organization:manage.

Scoping (changelist, 404 for outsiders) comes from orgs.admin.scoping, the subject pickers
from policies.admin_mixins; every write goes through policies.redaction.services (validation,
audit log, proxy invalidation). A new policy starts with every rule of both categories ticked
(policies.redaction.rules.default_rule_ids, what the CLI and the API apply too), and a form
that would save a policy looking on but redacting nothing is refused with the reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.forms.models import construct_instance

from orgs.admin.scoping import OrganizationScopedAdmin
from policies.admin_mixins import DEFAULT_SUBJECT_FIELDS, PolicySubjectAdminMixin, subject_data
from policies.redaction.models import RedactionPolicy
from policies.redaction.rules import default_rule_ids, rule_choices
from policies.redaction.services import (
    EDITABLE_FIELDS,
    redaction_policy_check,
    redaction_policy_delete,
    redaction_policy_set,
    redacts_nothing,
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
        else:
            self.initial.setdefault("pii_rules", default_rule_ids("pii"))
            self.initial.setdefault("secret_rules", default_rule_ids("secrets"))
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

    def subject(self) -> dict[str, Any]:
        if self.instance.pk:
            return {k: getattr(self.instance, k) for k in SUBJECT_FIELDS if k != "customer"}
        subject = subject_data(self.cleaned_data, DEFAULT_SUBJECT_FIELDS)
        subject.pop("customer")  # redaction applies to keys and their owners, not customers
        return subject

    def fields_given(self) -> dict[str, Any]:
        fields = {k: self.cleaned_data[k] for k in EDITABLE_FIELDS if k in self.cleaned_data}
        if not fields.get("name"):
            fields.pop("name", None)
        return fields

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        try:
            data.update(redaction_policy_check(**self.subject(), **self.fields_given()))
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
class RedactionPolicyAdmin(PolicySubjectAdminMixin, OrganizationScopedAdmin):
    admin_section = "Settings → Gateway → LLM Gateway"
    required_permission = "organization:manage"
    form = RedactionPolicyForm
    list_display = (
        "name",
        "organization",
        "scope",
        "subject",
        "enabled",
        "pii",
        "secrets",
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

    @staticmethod
    def _category(enabled: bool, rules: list[str]) -> str:
        if not enabled:
            return "off"
        return f"{len(rules)} rule(s)" if rules else "on, no rule: redacts nothing"

    @admin.display(description="PII")
    def pii(self, obj: RedactionPolicy) -> str:
        return self._category(obj.pii_enabled, obj.pii_rules or [])

    @admin.display(description="secrets")
    def secrets(self, obj: RedactionPolicy) -> str:
        return self._category(obj.secrets_enabled, obj.secret_rules or [])

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        return fields + list(SUBJECT_FIELDS) if obj is not None else fields

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        if request.method == "GET" and not getattr(settings, "GATEWAY_PII_NLP_MODEL", ""):
            messages.info(request, NER_NOTE)
        return super().changelist_view(request, extra_context)

    def save_model(
        self, request: HttpRequest, obj: RedactionPolicy, form: Any, change: bool
    ) -> None:
        policy = redaction_policy_set(**form.subject(), actor=request.user, **form.fields_given())
        for field in RedactionPolicy._meta.concrete_fields:  # the page goes on with the saved row
            setattr(obj, field.attname, getattr(policy, field.attname))
        if redacts_nothing(policy):
            messages.warning(
                request,
                f"{policy.name} redacts nothing: calls of {policy.subject_label} are sent "
                "unredacted, even where a broader policy would redact them.",
            )

    def delete_model(self, request: HttpRequest, obj: RedactionPolicy) -> None:
        redaction_policy_delete(policy=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            redaction_policy_delete(policy=obj, actor=request.user)
