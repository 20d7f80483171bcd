"""Admin: Settings → Gateway → LLM Gateway → Rate limits, for `organization:manage`, with the
current use of each window.

Scoping (changelist, 404 for outsiders) comes from orgs.admin.scoping, the subject pickers from
policies.admin_mixins. Nothing here saves a model: the form and its limits are checked by
policies.ratelimit.services.rate_limit_check and written by rate_limit_save (validated,
audit-logged with before/after, every gateway process reloads).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin
from django.utils.html import format_html_join

from orgs.admin.scoping import OrganizationScopedAdmin
from policies.admin_mixins import (
    COUNTING_SUBJECT_FIELDS,
    PolicyDefinitionForm,
    PolicyPartInline,
    PolicySubjectAdminMixin,
    ServiceWrittenPolicyAdminMixin,
)
from policies.ratelimit.models import RateLimit, RateLimitPolicy
from policies.ratelimit.selectors import current_usage, members_usage
from policies.ratelimit.services import rate_limit_check, rate_limit_delete, rate_limit_save
from policies.subjects import member_labels

if TYPE_CHECKING:
    from django.http import HttpRequest


class LimitFormSet(forms.BaseInlineFormSet):
    """At least one window, each once; the numbers are checked by the service."""

    def limits(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or not data.get("window"):
                continue
            if data["window"] in result:
                raise forms.ValidationError(f"the {data['window']} window is listed twice")
            result[data["window"]] = (data.get("max_requests"), data.get("max_tokens"))
        return result

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        if not self.limits():
            raise forms.ValidationError("a rate limit needs at least one window")


class RateLimitInline(PolicyPartInline):
    model = RateLimit
    formset = LimitFormSet
    fields = ("window", "max_requests", "max_tokens")


class RateLimitPolicyForm(PolicyDefinitionForm):
    check = staticmethod(rate_limit_check)
    subject_fields_by_kind = COUNTING_SUBJECT_FIELDS
    has_kind = True

    class Meta:
        model = RateLimitPolicy
        fields = (
            "organization",
            "name",
            "enabled",
            "scope",
            "kind",
            "workspace",
            "api_key",
            "user",
            "customer",
        )


def _usage_lines(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (
            f"{r['metric']} per {r['window']}",
            "unreadable now" if r["used"] is None else f"{r['used']} of {r['limit']}",
        )
        for r in rows
    ]


@admin.register(RateLimitPolicy)
class RateLimitPolicyAdmin(
    ServiceWrittenPolicyAdminMixin, PolicySubjectAdminMixin, OrganizationScopedAdmin
):
    delete_service = staticmethod(rate_limit_delete)
    admin_section = "Settings → Gateway → LLM Gateway"
    required_permission = "organization:manage"
    subject_fields_by_kind = COUNTING_SUBJECT_FIELDS
    kind_field = "kind"
    form = RateLimitPolicyForm
    inlines = (RateLimitInline,)
    list_display = ("name", "organization", "scope", "kind", "subject", "enabled", "usage_now")
    list_filter = ("scope", "kind", "enabled")
    search_fields = ("name", "customer")
    readonly_fields = ("usage_now", "members_now")

    @admin.display(description="subject")
    def subject(self, obj: RateLimitPolicy) -> str:
        return obj.subject_label

    @admin.display(description="current use per window (sliding)")
    def usage_now(self, obj: RateLimitPolicy) -> str:
        if not obj.pk:
            return "-"
        if obj.kind == RateLimitPolicy.Kind.DEFAULT_PER_MEMBER:
            return "each member has its own counters"
        return format_html_join("", "<div>{}: {}</div>", _usage_lines(current_usage(obj)))

    @admin.display(description="members (default per member)")
    def members_now(self, obj: RateLimitPolicy) -> str:
        if not obj.pk or obj.kind != RateLimitPolicy.Kind.DEFAULT_PER_MEMBER:
            return "-"
        rows = members_usage(obj)
        if rows is None:
            return "the live counters cannot be read right now"
        if not rows:
            return "no member counters yet"
        labels = member_labels(r["member"] for r in rows)
        return format_html_join(
            "",
            "<div>{}: {}</div>",
            (
                (labels[r["member"]], "; ".join(f"{a}: {b}" for a, b in _usage_lines(r["usage"])))
                for r in rows
            ),
        )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        limits_formset = next(f for f in formsets if isinstance(f, LimitFormSet))
        saved = rate_limit_save(
            policy=form.instance if change else None,
            limits=limits_formset.limits(),
            actor=request.user,
            **form.definition(),
        )
        for field in RateLimitPolicy._meta.concrete_fields:
            setattr(form.instance, field.attname, getattr(saved, field.attname))
        limits_formset.new_objects = limits_formset.changed_objects = []
        limits_formset.deleted_objects = []
