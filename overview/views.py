"""The gateway overview page of one organization (overview.selectors has what it shows),
wrapped in the admin site's `admin_view` in overview/urls.py. An organization outside the
viewer's scope is a 404, the same answer as one that does not exist."""

from __future__ import annotations

import csv
from typing import TYPE_CHECKING

from django.contrib import admin
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from orgs.models import Organization
from overview import charts, selectors

if TYPE_CHECKING:
    import datetime as dt

    from django.http import HttpRequest


def _scope(request: HttpRequest, org_id: int) -> selectors.OverviewScope:
    organization = Organization.objects.filter(pk=org_id).first()
    scope = None if organization is None else selectors.overview_scope(request.user, organization)
    if scope is None:
        raise Http404("No such organization.")
    return scope


def _group(request: HttpRequest) -> str:
    group = request.GET.get("group", "workspace")
    return group if group in selectors.GROUPS else "workspace"


def index_page(request: HttpRequest) -> HttpResponse:
    """One organization: its overview; several: a list to pick from; none: 404."""
    organizations = selectors.overview_organizations(request.user)
    if not organizations:
        raise Http404("No organization to show.")
    if len(organizations) == 1:
        return redirect("overview:organization", org_id=organizations[0].pk)
    context = {
        **admin.site.each_context(request),
        "title": "Gateway overview",
        "organizations": organizations,
    }
    return render(request, "overview/index.html", context)


def _money(value: float) -> str:
    return f"${value:,.2f}" if value >= 1 or value == 0 else f"${value:,.4f}"


def _tokens(value: float) -> str:
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:,.1f}{suffix}"
    return f"{value:,.0f}"


def _day(value: dt.date | dt.datetime) -> str:
    return f"{value:%b %d}"


def _hour(value: dt.date | dt.datetime) -> str:
    return f"{value:%d %H:00}"


def organization_page(request: HttpRequest, org_id: int) -> HttpResponse:
    scope = _scope(request, org_id)
    group = _group(request)
    reader = selectors.UsageReader(scope)
    daily = selectors.daily_usage(reader, group)
    if request.GET.get("format") == "csv":
        return _csv(scope, daily)
    hourly = selectors.hourly_calls(scope, reader.now)
    tops = {
        name: daily.top if name == group else selectors.top_usage(reader, name)
        for name in ("key", "user", "model")
    }
    names = [s.label for s in daily.series]
    context = {
        **admin.site.each_context(request),
        "title": f"Gateway overview: {scope.organization.name}",
        "organization": scope.organization,
        "scope": scope,
        "steps": selectors.checklist(scope),
        "group": group,
        "groups": selectors.GROUPS,
        "group_name": selectors.GROUPS[group],
        "spend_chart": charts.stacked_bars(
            label=f"Spend per day over 30 days, by {selectors.GROUPS[group].lower()}",
            buckets=daily.days,
            series=[(s.label, s.spend) for s in daily.series],
            fmt=_money,
            bucket_label=_day,
        ),
        "tokens_chart": charts.stacked_bars(
            label=f"Tokens per day over 30 days, by {selectors.GROUPS[group].lower()}",
            buckets=daily.days,
            series=[(s.label, [float(t) for t in s.tokens]) for s in daily.series],
            fmt=_tokens,
            bucket_label=_day,
        ),
        "legend": charts.legend(names),
        "calls_chart": charts.bars_and_rate(
            label="Calls per hour and error rate over 48 hours",
            buckets=hourly.hours,
            counts=hourly.calls,
            rates=hourly.error_rates,
            bucket_label=_hour,
        ),
        "hourly": hourly,
        "hourly_totals": {
            "calls": sum(hourly.calls),
            "errors": sum(hourly.errors),
            "blocked": sum(hourly.blocked),
        },
        "tops": [
            ("Top API keys", "API key", tops["key"]),
            ("Top users", "User", tops["user"]),
            ("Top models", "Model", tops["model"]),
        ],
        "daily": daily,
        "series_names": [s.label for s in daily.series],
        "total_spend": selectors.money(daily.totals["cost_usd"] or 0),
        "events": selectors.policy_events(scope),
        "csv_url": reverse("overview:organization", args=[scope.organization.pk])
        + f"?group={group}&format=csv",
    }
    return render(request, "overview/organization.html", context)


def _csv(scope: selectors.OverviewScope, daily: selectors.DailyUsage) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"{scope.organization.slug}-usage-by-{daily.group}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(
        ["day", daily.group, "calls", "input_tokens", "output_tokens", "cost_usd", "unpriced_calls"]
    )
    for row in daily.rows:
        writer.writerow(
            [
                row["day"].isoformat(),
                _csv_cell(row["group"]),
                row["calls"],
                row["input_tokens"],
                row["output_tokens"],
                "" if row["cost_usd"] is None else f"{row['cost_usd']:.6f}",
                row["unpriced_calls"],
            ]
        )
    return response


def _csv_cell(text: str) -> str:
    """A label that a spreadsheet would run as a formula is quoted as text."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
