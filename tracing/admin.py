"""Tracing → Projects → runs: read-only pages scoped to the user's workspaces.

Who sees what: projects need `projects:read` in their workspace; runs need `projects:read` and
`runs:read` there (tracing.selectors.run_workspace_ids). A run outside that scope answers 404
(orgs.admin.scoping.get_object). A member whose role lacks `runs:read` in every workspace
cannot open the runs list at all (403 from Django admin: there is no list they may see) and
gets 404 on any run page. Nothing here can add, change or delete a run.

Audit log → Security events: calls refused before a workspace was known, per minute.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.admin import FieldListFilter
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ObjectDoesNotExist
from django.core.paginator import Paginator as DjangoPaginator
from django.db.models import Q
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html

from orgs.admin.scoping import OrganizationScopedAdmin, WorkspaceScopedAdmin, workspace_ids_for
from tracing.admin_filters import (
    CustomerFilter,
    KeyFilter,
    ModelFilter,
    ProjectFilter,
    TimeRangeFilter,
    UserFilter,
)
from tracing.models import TOKEN_FIELDS, Run, SecurityEvent, TracingProject
from tracing.selectors import RunSlice, run_totals_of

if TYPE_CHECKING:
    from django.core.paginator import Paginator
    from django.db.models import Model, QuerySet
    from django.http import HttpRequest, HttpResponse

RUN_PERMISSIONS = ("projects:read", "runs:read")


class _NeverWritable:
    """Pages that only show what ingestion stored: nobody adds, changes or deletes."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class _ReadOnlyScopedAdmin(_NeverWritable, WorkspaceScopedAdmin):
    """Visible where the user holds every permission in `read_permissions`; never writable."""

    read_permissions: tuple[str, ...] = ("projects:read",)
    view_permission = "projects:read"

    def _ids(self, request: HttpRequest) -> set[int] | None:
        result: set[int] | None = None
        for permission in self.read_permissions:
            ids = workspace_ids_for(request, permission)
            if ids is not None:
                result = ids if result is None else result & ids
        return result

    def scope_filter(self, request: HttpRequest, permission: str) -> Q | None:
        ids = self._ids(request)
        return None if ids is None else Q(**{f"{self.workspace_field}__in": ids})

    def object_in_scope(self, request: HttpRequest, obj: Model, permission: str) -> bool:
        ids = self._ids(request)
        return ids is None or obj.workspace_id in ids  # type: ignore[attr-defined]

    def has_any_scope(self, request: HttpRequest, permission: str) -> bool:
        ids = self._ids(request)
        return ids is None or bool(ids)


@admin.register(TracingProject)
class TracingProjectAdmin(_ReadOnlyScopedAdmin):
    admin_section = "Tracing"
    admin_order = 1
    list_display = ("name", "workspace", "created_at", "runs_link")
    list_select_related = ("workspace__organization",)
    search_fields = ("name",)
    fields = ("name", "workspace", "created_at", "runs_link")
    readonly_fields = fields

    @admin.display(description="runs")
    def runs_link(self, obj: TracingProject) -> str:
        url = reverse("admin:tracing_run_changelist")
        return format_html('<a href="{}?project={}">Runs</a>', url, obj.pk)


def _pretty(value: Any, *, collapsed: bool = False) -> str:
    """JSON, indented; long or `collapsed` values fold into a <details> with their size."""
    if value in (None, {}, [], ""):
        return "—"
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    pre = format_html('<pre style="white-space: pre-wrap; margin: 0">{}</pre>', text)
    if not collapsed and text.count("\n") < 20:
        return pre
    size = len(text.encode())
    label = f"{size / 1024:.1f} KB" if size >= 1024 else f"{size} bytes"
    return format_html("<details><summary>Show ({})</summary>{}</details>", label, pre)


def _loose(obj: Run, name: str) -> Any:
    """A run's organization, workspace, key or user; runs outlive them (no FK constraint)."""
    try:
        return getattr(obj, name)
    except ObjectDoesNotExist:
        return None


def _seconds(start: Any, end: Any) -> str:
    if start is None or end is None:
        return "—"
    return f"{(end - start).total_seconds():.3f} s"


class RunPaginator(DjangoPaginator):
    """Pages through the newest MAX_PAGES pages of a filter, however many runs match: a page
    further back would make PostgreSQL skip (OFFSET) that many rows of a 10-million-run list
    first. The count stays the true one; the page says where paging stops."""

    MAX_PAGES = 200

    @cached_property
    def num_pages(self) -> int:
        return min(super().num_pages, self.MAX_PAGES)

    @property
    def truncated(self) -> bool:
        return self.count > self.num_pages * self.per_page


# The list filters whose value the hourly run totals can answer, by their totals column.
_HOURLY_FILTERS = {
    ProjectFilter: "project_id",
    KeyFilter: "key_id",
    UserFilter: "user_id",
    ModelFilter: "model",
}
_HOURLY_FIELDS = ("status", "policy_outcome")


class RunChangeList(ChangeList):
    """The runs list, whose totals (and page count) come from run_totals_of: the hourly totals
    for the whole hours of the filter's range plus its partial edge hours' runs, or a bounded
    read of the newest runs when a filter (a customer, a trace-id search) is one the hourly
    totals cannot answer."""

    def run_slice(self) -> RunSlice:
        since = until = None
        where: dict[str, Any] = {}
        raw_only = bool(self.query)
        for spec in self.filter_specs:
            if isinstance(spec, TimeRangeFilter):
                since, until = spec.bounds()
            elif type(spec) in _HOURLY_FILTERS:
                value = spec.value()  # type: ignore[attr-defined]
                if value is not None:
                    where[_HOURLY_FILTERS[type(spec)]] = value
            elif isinstance(spec, FieldListFilter) and spec.field_path in _HOURLY_FIELDS:
                used = {k: v for k, v in spec.used_parameters.items() if v not in (None, [])}
                values = used.pop(f"{spec.field_path}__exact", None)
                values = [values] if isinstance(values, str) else values
                if used or (values is not None and len(values) != 1):
                    raw_only = True
                elif values:
                    where[spec.field_path] = values[0]
            elif spec.has_output() and getattr(spec, "used_parameters", None):
                raw_only = True  # a filter the hourly totals do not know (customer)
        return RunSlice(since=since, until=until, where=where, raw_only=raw_only)

    def get_results(self, request: HttpRequest) -> None:
        request._gw_run_totals = run_totals_of(  # type: ignore[attr-defined]
            runs=self.queryset,
            workspace_ids=self.model_admin._ids(request),  # type: ignore[attr-defined]
            where=self.run_slice(),
        )
        super().get_results(request)


@admin.register(Run)
class RunAdmin(_ReadOnlyScopedAdmin):
    admin_section = "Tracing"
    admin_order = 2
    read_permissions = RUN_PERMISSIONS
    view_permission = "runs:read"
    show_full_result_count = False  # the filtered count comes with the totals (RunChangeList)
    show_facets = admin.ShowFacets.NEVER  # facet counts would each scan the filtered runs
    list_per_page = 50
    list_display = (
        "started_at",
        "name",
        "model",
        "status",
        "policy_outcome",
        "key_prefix",
        "user_label",
        "total_tokens",
        "cost_usd",
        "duration",
    )
    list_filter = (
        TimeRangeFilter,
        ProjectFilter,
        KeyFilter,
        UserFilter,
        ModelFilter,
        CustomerFilter,
        "status",
        "policy_outcome",
    )
    list_select_related = ("user",)
    # Exact and case-sensitive, so the trace id index answers it ("=trace_id" would compare
    # UPPER(trace_id), which no index serves: a scan of every run).
    search_fields = ("trace_id__exact",)
    search_help_text = "Exact trace id (from x-gateway-metadata)."
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "run_id",
                    "trace_id",
                    "project",
                    "name",
                    "status",
                    "http_status",
                    "error",
                    "policy_outcome",
                )
            },
        ),
        ("Timing", {"fields": ("started_at", "ended_at", "duration", "time_to_first_token")}),
        (
            "Call",
            {
                "fields": (
                    "dialect",
                    "provider",
                    "model",
                    "method",
                    "path",
                    "stream",
                    "user_agent",
                    "metadata_pretty",
                )
            },
        ),
        (
            "Caller",
            {
                "fields": (
                    "organization_name",
                    "workspace_name",
                    "key_name",
                    "user_label",
                    "customer",
                )
            },
        ),
        (
            "Usage and cost",
            {
                "fields": (
                    *TOKEN_FIELDS,
                    "cost_usd",
                    "price_missing",
                    "usage_estimated",
                    "usage_note",
                )
            },
        ),
        ("Policies", {"fields": ("policy_results_pretty", "redaction_counts_pretty")}),
        (
            "Content (stored only when the workspace traces content; redacted)",
            {
                "fields": (
                    "request_pretty",
                    "response_pretty",
                )
            },
        ),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        return [f for _, spec in self.fieldsets for f in spec["fields"]]

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return RunChangeList

    def get_paginator(
        self,
        request: HttpRequest,
        queryset: QuerySet[Run],
        per_page: int,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
    ) -> Paginator:
        """Counted by the totals shown above the list (RunChangeList), never by a COUNT(*)."""
        paginator = RunPaginator(queryset, per_page, orphans, allow_empty_first_page)
        totals = getattr(request, "_gw_run_totals", None)
        if totals is not None:
            paginator.__dict__["count"] = totals["calls"]  # pre-fills the cached_property
        return paginator

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if context is not None:
            context["run_totals"] = getattr(request, "_gw_run_totals", None)
            paginator = getattr(context.get("cl"), "paginator", None)
            if isinstance(paginator, RunPaginator) and paginator.truncated:
                context["run_pages_shown"] = paginator.num_pages * paginator.per_page
        return response

    @admin.display(description="user")
    def user_label(self, obj: Run) -> str:
        if obj.user_id is None:
            return "—"
        try:
            return obj.user.get_username()  # type: ignore[union-attr]
        except (ObjectDoesNotExist, AttributeError):
            return f"deleted user {obj.user_id}"  # runs outlive their users (no FK constraint)

    @admin.display(description="organization")
    def organization_name(self, obj: Run) -> str:
        org = _loose(obj, "organization")
        return f"{org.name} ({org.slug})" if org else f"deleted organization {obj.organization_id}"

    @admin.display(description="workspace")
    def workspace_name(self, obj: Run) -> str:
        ws = _loose(obj, "workspace")
        return f"{ws} ({ws.name})" if ws else f"deleted workspace {obj.workspace_id}"

    @admin.display(description="key")
    def key_name(self, obj: Run) -> str:
        key = _loose(obj, "key") if obj.key_id else None
        if key is None:
            return obj.key_prefix or "—"
        model = "personalaccesstoken" if key.kind == "personal" else "servicekey"
        url = reverse(f"admin:orgs_{model}_change", args=[key.pk])
        name = f" “{key.name}”" if key.name else ""
        return format_html('<a href="{}">{}</a>{}', url, key.display_prefix, name)

    @admin.display(description="tokens")
    def total_tokens(self, obj: Run) -> int:
        return obj.total_tokens

    @admin.display(description="duration")
    def duration(self, obj: Run) -> str:
        return _seconds(obj.started_at, obj.ended_at)

    @admin.display(description="time to first token")
    def time_to_first_token(self, obj: Run) -> str:
        return _seconds(obj.started_at, obj.first_token_at)

    @admin.display(description="X-Gateway-* metadata")
    def metadata_pretty(self, obj: Run) -> str:
        return _pretty(obj.request_metadata)

    @admin.display(description="policy results")
    def policy_results_pretty(self, obj: Run) -> str:
        return _pretty(obj.policy_results)

    @admin.display(description="redaction counts")
    def redaction_counts_pretty(self, obj: Run) -> str:
        return _pretty(obj.redaction_counts)

    @admin.display(description="request")
    def request_pretty(self, obj: Run) -> str:
        return _pretty(obj.request_content, collapsed=True)

    @admin.display(description="response")
    def response_pretty(self, obj: Run) -> str:
        return _pretty(obj.response_content, collapsed=True)


@admin.register(SecurityEvent)
class SecurityEventAdmin(_NeverWritable, OrganizationScopedAdmin):
    """Read-only. Organization managers see the refusals of their organization's keys (an
    organization-scoped key used against the gateway); every other refusal (no key, an unknown
    or revoked key, a probed path) belongs to no organization and only superusers see it."""

    admin_section = "Audit log"
    organization_field = "organization"
    required_permission = "organization:manage"
    list_display = (
        "minute",
        "reason",
        "count",
        "key_prefix",
        "client_address",
        "path",
        "organization",
    )
    list_filter = ("reason",)
    search_fields = ("=key_prefix", "=client_address")
    search_help_text = "Exact key prefix (gw_sk_…) or client address."
    date_hierarchy = "minute"
    list_select_related = ("organization",)
    fields = list_display
    readonly_fields = fields
    show_facets = admin.ShowFacets.NEVER
