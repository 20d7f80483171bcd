"""Panels of the tracing app on other apps' admin pages (loaded by name in their templates, so
no Python import runs from those apps to this one)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.urls import reverse
from django.utils import timezone

from tracing.models import Run
from tracing.selectors import RunSlice, run_totals_of, run_workspace_ids

register = template.Library()
TOTALS_DAYS = 30


@register.inclusion_tag("tracing/key_runs_panel.html", takes_context=True)
def key_recent_runs(context: Any, key: Any, limit: int = 10) -> dict[str, Any]:
    """The key's latest runs and its last 30 days' totals, when the user may read the runs of
    its workspace (projects:read and runs:read); nothing otherwise."""
    ids = run_workspace_ids(context["request"].user)
    allowed = key.workspace_id is not None and (ids is None or key.workspace_id in ids)
    if not allowed:
        return {"allowed": False}
    runs = Run.objects.filter(workspace_id=key.workspace_id, key_id=key.pk)
    since = timezone.now() - dt.timedelta(days=TOTALS_DAYS)
    return {
        "allowed": True,
        "runs": list(runs.order_by("-started_at", "-id")[:limit]),
        "totals": run_totals_of(
            runs=runs.filter(started_at__gte=since),
            workspace_ids={key.workspace_id},
            where=RunSlice(since=since, where={"key_id": key.pk}),
        ),
        "days": TOTALS_DAYS,
        "runs_url": f"{reverse('admin:tracing_run_changelist')}?key={key.pk}",
    }
