from __future__ import annotations

import datetime as dt

from api.tests.test_tracing import record
from api.tests.test_usage import T0, URL, at, seed
from tracing.models import UsageDaily, UsageRollupState
from tracing.rollup import usage_rollup_refresh
from tracing.services import runs_ingest

QUERIES = [
    URL + "&bucket=day&group_by=model",
    URL + "&bucket=week&group_by=user",
    URL + "&bucket=day&group_by=key",
    "/api/v1/usage/?since=2026-03-02T10:45:00Z&until=2026-03-04T06:00:00Z&bucket=day&group_by=none",
    URL + "&bucket=hour&group_by=model",
]


def answers(api):
    out = []
    for url in QUERIES:
        response = api.get(url)
        assert response.status_code == 200, response.content
        out.append(response.json()["rows"])
    return out


def test_rolled_up_days_answer_exactly_like_raw_rows(owner, member, outsider, api):
    seed(owner, member, outsider)
    raw = answers(api)
    written = usage_rollup_refresh(now=T0 + dt.timedelta(days=3))
    assert written == UsageDaily.objects.count() > 0
    assert UsageRollupState.objects.get().rolled_through == dt.date(2026, 3, 5)
    assert answers(api) == raw


def test_today_stays_raw_and_late_usage_is_rechecked(owner, member, outsider, api):
    seed(owner, member, outsider)
    usage_rollup_refresh(now=T0 + dt.timedelta(hours=2))  # rolls up nothing before Mar 2
    assert UsageDaily.objects.count() == 0
    usage_rollup_refresh(now=T0 + dt.timedelta(days=2))
    before = api.get(URL + "&bucket=day&group_by=none").json()["totals"]["calls"]
    runs_ingest([record(owner, started_at=at(1.5))])  # a late arrival for a rolled-up day
    assert api.get(URL + "&bucket=day&group_by=none").json()["totals"]["calls"] == before
    usage_rollup_refresh(now=T0 + dt.timedelta(days=2, hours=1))
    assert api.get(URL + "&bucket=day&group_by=none").json()["totals"]["calls"] == before + 1
    usage_rollup_refresh(now=T0 + dt.timedelta(days=2, hours=1))  # idempotent
    assert api.get(URL + "&bucket=day&group_by=none").json()["totals"]["calls"] == before + 1


def test_rollup_keeps_scoping(owner, member, outsider, as_outsider):
    seed(owner, member, outsider)
    usage_rollup_refresh(now=T0 + dt.timedelta(days=3))
    body = as_outsider.get(URL + "&group_by=none").json()
    assert body["totals"]["calls"] == 1


def test_the_beat_task_rolls_up_closed_days(owner, member, outsider):
    from tracing.tasks import refresh_usage_rollup

    seed(owner, member, outsider)  # March 2026: every day of it is closed by now
    assert refresh_usage_rollup() == UsageDaily.objects.count() > 0
    assert sum(UsageDaily.objects.values_list("calls", flat=True)) == 5


def test_the_command_rechecks_older_days_on_request(owner, member, outsider, api):
    from io import StringIO

    from django.core.management import call_command

    seed(owner, member, outsider)
    usage_rollup_refresh()  # everything in March 2026 is rolled up
    runs_ingest([record(owner, started_at=at(0.5))])  # arrives weeks late
    before = api.get(URL + "&bucket=day&group_by=none").json()["totals"]["calls"]
    call_command("gateway_usage_rollup", stdout=StringIO())  # 2 days: does not reach March 2
    assert api.get(URL + "&bucket=day&group_by=none").json()["totals"]["calls"] == before
    out = StringIO()
    call_command("gateway_usage_rollup", "--recheck-days", "400", stdout=out)
    assert "daily rows written" in out.getvalue()
    assert api.get(URL + "&bucket=day&group_by=none").json()["totals"]["calls"] == before + 1
