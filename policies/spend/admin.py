"""Admin: Settings → Gateway → LLM Gateway → Spend limits, for `organization:manage`.

Scoping (changelist, 404 for outsiders) comes from orgs.admin.scoping, the subject pickers from
policies.admin_mixins. Nothing here saves a model: the form and its windows are checked by
policies.spend.services.spend_policy_check and written by spend_policy_save (validated,
audit-logged with before/after, every gateway process reloads).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html_join

from orgs.admin.scoping import OrganizationScopedAdmin, organization_ids_for
from orgs.models import Organization
from policies.admin_mixins import (
    COUNTING_SUBJECT_FIELDS,
    PolicyDefinitionForm,
    PolicyPartInline,
    PolicySubjectAdminMixin,
    ServiceWrittenPolicyAdminMixin,
)
from policies.spend.models import (
    SpendAlertChannel,
    SpendAlertDelivery,
    SpendPolicy,
    SpendWindow,
)
from policies.spend.selectors import current_spend, member_spend
from policies.spend.services import (
    alert_channel_add,
    alert_channel_delete,
    alert_target_check,
    alert_thresholds_set,
    parse_thresholds,
    spend_policy_check,
    spend_policy_delete,
    spend_policy_save,
)

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

SPEND_SUBJECT_FIELDS = COUNTING_SUBJECT_FIELDS
DEFINITION_FIELDS = (
    "unpriced_models",
    "fallback_input_per_mtok",
    "fallback_output_per_mtok",
)


class WindowFormSet(forms.BaseInlineFormSet):
    """At least one window, each window once; the limits are checked by the service."""

    def windows(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or not data.get("window"):
                continue
            if data["window"] in result:
                raise forms.ValidationError(f"the {data['window']} window is listed twice")
            result[data["window"]] = data.get("limit_usd")
        return result

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        if not self.windows():
            raise forms.ValidationError("a spend limit needs at least one window")


class SpendWindowInline(PolicyPartInline):
    model = SpendWindow
    formset = WindowFormSet
    fields = ("window", "limit_usd")


class SpendPolicyForm(PolicyDefinitionForm):
    check = staticmethod(spend_policy_check)
    subject_fields_by_kind = SPEND_SUBJECT_FIELDS
    has_kind = True
    extra_fields = DEFINITION_FIELDS

    alert_at = forms.CharField(
        label="Budget alerts at (%)",
        required=False,
        help_text="Percentages of each window's limit, e.g. 50, 80, 100: one alert per threshold "
        "per window (and per member), sent to the alert channels of this limit. Empty: no alerts.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["alert_at"].initial = ", ".join(
                str(t) for t in self.instance.alert_thresholds or []
            )

    def clean_alert_at(self) -> list[int]:
        try:
            return parse_thresholds(self.cleaned_data.get("alert_at") or "")
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc

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
            "customer",
            "unpriced_models",
            "fallback_input_per_mtok",
            "fallback_output_per_mtok",
        )


@admin.register(SpendPolicy)
class SpendPolicyAdmin(
    ServiceWrittenPolicyAdminMixin, PolicySubjectAdminMixin, OrganizationScopedAdmin
):
    delete_service = staticmethod(spend_policy_delete)
    admin_section = "Settings → Gateway → LLM Gateway"
    required_permission = "organization:manage"
    subject_fields_by_kind = SPEND_SUBJECT_FIELDS
    kind_field = "kind"
    form = SpendPolicyForm
    inlines = (SpendWindowInline,)
    list_display = ("name", "organization", "scope", "kind", "subject", "enabled", "spend_now")
    list_filter = ("scope", "kind", "enabled")
    search_fields = ("name",)
    readonly_fields = ("spend_now", "members_now", "alert_channels_now")

    @admin.display(description="alert channels")
    def alert_channels_now(self, obj: SpendPolicy) -> str:
        if not obj.pk:
            return "Add channels under Spend limits → Alert channels once the limit is saved."
        channels = list(obj.alert_channels.all())
        if not channels:
            return "none yet (Alert channels → Add)"
        return format_html_join("", "<div>{}</div>", ((str(c),) for c in channels))

    @admin.display(description="subject")
    def subject(self, obj: SpendPolicy) -> str:
        if obj.scope == SpendPolicy.Scope.CUSTOMER:
            return obj.subject_label
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

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        windows_formset = next(f for f in formsets if isinstance(f, WindowFormSet))
        saved = spend_policy_save(
            policy=form.instance if change else None,
            windows=windows_formset.windows(),
            actor=request.user,
            **form.definition(),
        )
        if list(saved.alert_thresholds or []) != form.cleaned_data["alert_at"]:
            saved = alert_thresholds_set(
                policy=saved, thresholds=form.cleaned_data["alert_at"], actor=request.user
            )
        for field in SpendPolicy._meta.concrete_fields:  # the page goes on with the saved row
            setattr(form.instance, field.attname, getattr(saved, field.attname))
        # What Django's change message reads after formset.save().
        windows_formset.new_objects = windows_formset.changed_objects = []
        windows_formset.deleted_objects = []


class AlertChannelForm(forms.ModelForm):
    class Meta:
        model = SpendAlertChannel
        fields = ("policy", "kind", "target")
        help_texts = {
            "target": "Webhook or Slack incoming-webhook URL (hosts outside "
            "GATEWAY_UPSTREAM_ALLOWED_HOSTS need a superuser), or an e-mail address.",
        }

    actor: Any = None  # set by the admin: the outbound-host guard depends on who asks

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        try:
            data["target"] = alert_target_check(
                kind=data["kind"], target=data.get("target") or "", actor=self.actor
            )
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc
        return data

    def _post_clean(self) -> None:
        pass  # written by the service, not by model validation


@admin.register(SpendAlertChannel)
class SpendAlertChannelAdmin(OrganizationScopedAdmin):
    """Where a spend limit's budget alerts go. Added and removed through the services (guarded,
    audit-logged); a webhook's signing secret is shown once, right after it is added."""

    admin_section = "Settings → Gateway → LLM Gateway"
    admin_order = 110
    organization_field = "policy__organization"
    required_permission = "organization:manage"
    form = AlertChannelForm
    list_display = ("policy", "kind", "target", "created_at")
    list_filter = ("kind",)
    list_select_related = ("policy__organization",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("policy", "kind", "target", "created_at") if obj is not None else ()

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False if obj is not None else super().has_change_permission(request, obj)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "policy":
            ids = organization_ids_for(request, self.required_permission)
            qs = SpendPolicy.objects.select_related("organization")
            kwargs["queryset"] = qs if ids is None else qs.filter(organization_id__in=ids)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        channel, secret = alert_channel_add(
            policy=form.cleaned_data["policy"],
            kind=form.cleaned_data["kind"],
            target=form.cleaned_data["target"],
            actor=request.user,
        )
        for field in SpendAlertChannel._meta.concrete_fields:  # the page goes on with it
            setattr(obj, field.attname, getattr(channel, field.attname))
        if secret:
            messages.warning(
                request,
                f"Signing secret of {channel.target} (shown once, store it now): {secret}. "
                "Each post carries X-Gateway-Signature: sha256=HMAC-SHA256(secret, "
                "X-Gateway-Timestamp + '.' + body).",
            )

    def delete_model(self, request: HttpRequest, obj: SpendAlertChannel) -> None:
        alert_channel_delete(channel=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            alert_channel_delete(channel=obj, actor=request.user)


@admin.register(SpendAlertDelivery)
class SpendAlertDeliveryAdmin(OrganizationScopedAdmin):
    """The delivery log: every budget alert sent (or being retried) to each channel."""

    admin_section = "Settings → Gateway → LLM Gateway"
    admin_order = 120
    organization_field = "alert__policy__organization"
    required_permission = "organization:manage"
    list_display = (
        "created_at",
        "policy",
        "threshold",
        "window",
        "window_start",
        "kind",
        "target",
        "status",
        "attempts",
        "response_status",
        "last_error",
        "delivered_at",
    )
    list_filter = ("status", "kind")
    list_select_related = ("alert__policy__organization",)
    date_hierarchy = "created_at"
    show_facets = admin.ShowFacets.NEVER

    @admin.display(description="spend limit")
    def policy(self, obj: SpendAlertDelivery) -> str:
        return str(obj.alert.policy)

    @admin.display(description="threshold")
    def threshold(self, obj: SpendAlertDelivery) -> str:
        alert = obj.alert
        member = f" {alert.member}" if alert.member else ""
        return f"{alert.threshold}% (${alert.spent_usd} of ${alert.limit_usd}){member}"

    @admin.display(description="window")
    def window(self, obj: SpendAlertDelivery) -> str:
        return obj.alert.window

    @admin.display(description="window start")
    def window_start(self, obj: SpendAlertDelivery) -> Any:
        return obj.alert.window_start

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
