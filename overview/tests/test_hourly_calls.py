"""The overview's 48-hour chart (calls, errors, blocks per hour) read from the hourly run totals:
the same numbers as counting the raw usage rows, the current hour included, in scope."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import Count, Q
from django.db.models.functions import TruncHour
from django.utils import timezone

from orgs import services
from overview.selectors import HOURS, hourly_calls, overview_scope
from tracing.models import UsageRecord
from tracing.services import runs_ingest
from tracing.tests.factories import call_record

pytestmark = pytest.mark.django_db


def _raw(scope, now: dt.datetime) -> tuple[list[int], list[int], list[int]]:
    """The chart as it was computed before: usage rows of the organization (and the scope's
    workspaces), grouped by hour."""
    last = now.replace(minute=0, second=0, microsecond=0)
    hours = [last - dt.timedelta(hours=HOURS - 1 - i) for i in range(HOURS)]
    qs = UsageRecord.objects.filter(
        organization_id=scope.organization.pk, started_at__gte=hours[0], started_at__lte=now
    )
    if scope.workspace_ids is not None:
        qs = qs.filter(workspace_id__in=scope.ids())
    rows = {
        row["hour"]: row
        for row in qs.order_by()
        .annotate(hour=TruncHour("started_at", tzinfo=dt.UTC))
        .values("hour")
        .annotate(
            calls=Count("*"),
            errors=Count("started_at", filter=Q(status="error")),
            blocked=Count("started_at", filter=Q(status="blocked")),
        )
    }
    empty = {"calls": 0, "errors": 0, "blocked": 0}
    return tuple(  # type: ignore[return-value]
        [rows.get(hour, empty)[name] for hour in hours] for name in ("calls", "errors", "blocked")
    )


def _ingest_both_workspaces(owner) -> dt.datetime:
    """Calls of acme/main and acme/secret-team around the chart's edges; returns the page's now."""
    other = services.workspace_upsert(organization=owner.organization, slug="secret-team")
    now = timezone.now()
    last = now.replace(minute=0, second=0, microsecond=0)
    current = last + (now - last) / 2  # in the current hour, before now
    moments = [
        now - dt.timedelta(hours=49),  # before the chart
        last - dt.timedelta(hours=HOURS - 1),  # the chart's first instant
        now - dt.timedelta(hours=30, minutes=5),
        now - dt.timedelta(hours=2, minutes=1),
        now - dt.timedelta(hours=2, minutes=2),
        last - dt.timedelta(microseconds=1),  # the last whole hour's last instant
        last,  # the current hour's first
        current,
        last + dt.timedelta(hours=1, minutes=1),  # the next hour's (a clock ahead): not yet
    ]
    records = []
    for i, moment in enumerate(moments):
        status = ("success", "error", "blocked")[i % 3]
        for workspace_id in (owner.workspace.pk, other.pk):
            records.append(
                call_record(
                    owner,
                    workspace_id=workspace_id,
                    started_at=moment.timestamp(),
                    status=status,
                    model=f"m{i % 2}",
                )
            )
    runs_ingest(records)
    runs_ingest(records[:5])  # redelivered: counted once by both
    return now


def _check(scope, now: dt.datetime, per_workspace: int) -> None:
    chart = hourly_calls(scope, now)
    calls, errors, blocked = _raw(scope, now)
    assert (chart.calls, chart.errors, chart.blocked) == (calls, errors, blocked)
    assert calls[-1] == 2 * per_workspace  # the current hour: its two runs up to now
    assert sum(calls) == 7 * per_workspace
    assert sum(errors) > 0 and sum(blocked) > 0


def test_a_workspace_admin_s_chart_counts_what_the_raw_usage_rows_count_in_their_workspace(
    owner,
):
    now = _ingest_both_workspaces(owner)
    scope = overview_scope(owner.user, owner.organization)  # WORKSPACE_ADMIN of acme/main
    assert scope is not None and scope.workspace_ids == {owner.workspace.pk}
    _check(scope, now, per_workspace=1)


def test_an_organization_admin_s_chart_counts_every_workspace_current_hour_included(org_admin):
    now = _ingest_both_workspaces(org_admin)
    scope = overview_scope(org_admin.user, org_admin.organization)
    assert scope is not None and scope.workspace_ids is None
    _check(scope, now, per_workspace=2)
