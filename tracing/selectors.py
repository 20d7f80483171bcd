"""Reads of the tracing app, scoped to what a principal may see.

Reading runs needs both `projects:read` and `runs:read` in the run's workspace; listing
projects needs `projects:read`. Every read in the admin, the API and the export starts here.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Q, Sum

from orgs.permissions import visible_workspace_ids
from tracing.models import Run, TracingProject

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
    totals = queryset.order_by().aggregate(
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
