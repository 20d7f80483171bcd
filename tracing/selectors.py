"""Reads of the tracing app, scoped to what a principal may see.

Reading runs needs both `projects:read` and `runs:read` in the run's workspace; listing
projects needs `projects:read`. Every read in the admin, the API and the export starts here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Q, Sum

from orgs.permissions import visible_workspace_ids
from tracing.models import Run, RunHourly, TracingProject
from tracing.rollup import HOURLY_DIMS

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from orgs.permissions import Principal


def run_workspace_ids(principal: Principal) -> set[int] | None:
    """Workspaces whose runs `principal` may read (None: all, for a superuser)."""
    projects = visible_workspace_ids(principal, "projects:read")
    runs = visible_workspace_ids(principal, "runs:read")
    if projects is None or runs is None:
        return runs if projects is None else projects
    return projects & runs


def project_list(*, principal: Principal) -> QuerySet[TracingProject]:
    qs = TracingProject.objects.select_related("workspace__organization")
    ids = visible_workspace_ids(principal, "projects:read")
    return qs if ids is None else qs.filter(workspace_id__in=ids)


def run_list(
    *,
    principal: Principal,
    project: TracingProject | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> QuerySet[Run]:
    """Runs visible to `principal`, newest first, optionally one project and a time range."""
    qs = Run.objects.all()
    ids = run_workspace_ids(principal)
    if ids is not None:
        qs = qs.filter(workspace_id__in=ids)
    if project is not None:
        qs = qs.filter(project=project)
    if since is not None:
        qs = qs.filter(started_at__gte=since)
    if until is not None:
        qs = qs.filter(started_at__lt=until)
    return qs


def run_totals(queryset: QuerySet[Run]) -> dict[str, Any]:
    """Calls, tokens and cost of a (filtered) run queryset, in one aggregate query.

    `cost_usd` sums priced calls only; `unpriced` counts the calls whose model had no price,
    so a total is never silently understated.
    """
    if not queryset.query.is_sliced:  # a slice keeps its order: it picks the newest runs
        queryset = queryset.order_by()
    totals = queryset.aggregate(
        calls=Count("id"),
        input_tokens=Sum("input_tokens"),
        output_tokens=Sum("output_tokens"),
        cost=Sum("cost_usd"),
        unpriced=Count("id", filter=Q(cost_usd__isnull=True)),
    )
    totals["cost_usd"] = totals.pop("cost")
    for name in ("input_tokens", "output_tokens"):
        totals[name] = totals[name] or 0
    totals["total_tokens"] = totals["input_tokens"] + totals["output_tokens"]
    return totals


# Totals over runs the hourly totals cannot answer (a customer, a trace-id search) read the
# matching runs themselves, newest first, at most this many: a long range over a busy
# workspace would otherwise aggregate millions of rows on every page view.
RAW_TOTALS_CAP = 100_000


@dataclass(frozen=True)
class RunSlice:
    """The runs a list shows, in the terms of the hourly totals (RunHourly): a time range,
    equality filters on HOURLY_DIMS columns, and whether any other filter applies (a customer,
    a search), which the hourly totals cannot answer."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    where: Mapping[str, Any] = field(default_factory=dict)
    raw_only: bool = False


def _hour_floor(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def _hour_ceil(moment: dt.datetime) -> dt.datetime:
    floor = _hour_floor(moment)
    return floor if floor == moment else floor + dt.timedelta(hours=1)


def _hourly_totals(
    workspace_ids: set[int] | None,
    start: dt.datetime | None,
    end: dt.datetime | None,
    where: Mapping[str, Any],
) -> dict[str, Any]:
    qs = RunHourly.objects.filter(**where)
    if workspace_ids is not None:
        qs = qs.filter(workspace_id__in=workspace_ids)
    if start is not None:
        qs = qs.filter(hour__gte=start)
    if end is not None:
        qs = qs.filter(hour__lt=end)
    return qs.aggregate(
        calls=Sum("calls"),
        input_tokens=Sum("input_tokens"),
        output_tokens=Sum("output_tokens"),
        cost=Sum("cost_usd"),
        unpriced=Sum("unpriced"),
    )


def _combine(parts: list[dict[str, Any]], **flags: Any) -> dict[str, Any]:
    """run_totals' shape from partial sums (the cost is None when no call had a price)."""
    total = {
        name: sum(int(part.get(name) or 0) for part in parts)
        for name in ("calls", "input_tokens", "output_tokens", "unpriced")
    }
    costs = [part["cost_usd"] if "cost_usd" in part else part.get("cost") for part in parts]
    priced = total["calls"] - total["unpriced"]
    total["cost_usd"] = sum(c for c in costs if c is not None) if priced else None
    total["total_tokens"] = total["input_tokens"] + total["output_tokens"]
    return {**total, **flags}


def run_totals_of(
    *,
    runs: QuerySet[Run],
    workspace_ids: set[int] | None,
    where: RunSlice,
    raw_cap: int = RAW_TOTALS_CAP,
) -> dict[str, Any]:
    """Totals of `runs` (already filtered to `where` and scoped to `workspace_ids`), without
    aggregating every run of a long range.

    When `where` holds only filters the hourly totals know, the totals are exact: the whole
    hours of the range come from RunHourly (maintained with the runs, today's hour included)
    and only the runs of a partial first or last hour are read (at most an hour of the
    filter's runs each). "Any time" reads no run at all. Otherwise the newest raw_cap + 1
    matching runs (`raw_cap`) are aggregated: exact when fewer match; beyond, `capped` is set and only the
    call count's lower bound is given (tokens and cost of a truncated set would mislead, so
    they are None). The result also says `exact` and whether runs were read (`source`).
    """
    unknown = set(where.where) - set(HOURLY_DIMS)
    if unknown:
        raise ValueError(f"hourly run totals have no column {sorted(unknown)}")
    if where.raw_only:
        totals = run_totals(runs.order_by("-started_at", "-id")[: raw_cap + 1])
        if totals["calls"] <= raw_cap:
            return {**totals, "exact": True, "capped": False, "source": "runs"}
        return {
            **totals,
            "calls": raw_cap,
            "input_tokens": None,
            "output_tokens": None,
            "total_tokens": None,
            "cost_usd": None,
            "unpriced": None,
            "exact": False,
            "capped": True,
            "source": "runs",
        }
    start = _hour_ceil(where.since) if where.since is not None else None
    end = _hour_floor(where.until) if where.until is not None else None
    if start is not None and end is not None and start >= end:
        return {**run_totals(runs), "exact": True, "capped": False, "source": "runs"}
    parts = [_hourly_totals(workspace_ids, start, end, where.where)]
    if start is not None and where.since is not None and where.since < start:
        parts.append(run_totals(runs.filter(started_at__lt=start)))
    if end is not None and where.until is not None and end < where.until:
        parts.append(run_totals(runs.filter(started_at__gte=end)))
    return _combine(parts, exact=True, capped=False, source="hourly totals")
