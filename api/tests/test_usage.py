from __future__ import annotations

import datetime as dt
from decimal import Decimal

from api.tests.conftest import key_client
from api.tests.test_tracing import record
from tracing.services import runs_ingest

T0 = dt.datetime(2026, 3, 2, 10, 30, tzinfo=dt.UTC)  # a Monday


def at(delta_hours):
    return (T0 + dt.timedelta(hours=delta_hours)).timestamp()


def seed(owner, member, outsider):
    runs_ingest(
        [
            record(owner, started_at=at(0), model="gpt-4o", cost_usd=0.5, input_tokens=100),
            record(owner, started_at=at(0.2), model="gpt-4o", cost_usd=0.25, input_tokens=50),
            record(
                owner,
                started_at=at(1),
                model="claude-sonnet-4-5",
                cost_usd=None,
                price_missing=True,
            ),
            record(member, started_at=at(25), model="gpt-4o", cost_usd=1.0),
            record(outsider, started_at=at(0), model="gpt-4o", cost_usd=99.0),
        ]
    )


URL = "/api/v1/usage/?since=2026-03-02T00:00:00Z&until=2026-03-09T00:00:00Z"


def test_daily_by_model(owner, member, outsider, api):
    seed(owner, member, outsider)
    body = api.get(URL + "&bucket=day&group_by=model").json()
    rows = [
        (r["bucket"][:10], r["group"], r["calls"], r["cost_usd"], r["unpriced_calls"])
        for r in body["rows"]
    ]
    assert rows == [
        ("2026-03-02", "claude-sonnet-4-5", 1, None, 1),
        ("2026-03-02", "gpt-4o", 2, "0.7500000000", 0),
        ("2026-03-03", "gpt-4o", 1, "1.0000000000", 0),
    ]
    assert Decimal(body["totals"]["cost_usd"]) == Decimal("1.75")
    assert body["totals"]["calls"] == 4 and body["totals"]["unpriced_calls"] == 1
    assert body["totals"]["input_tokens"] == 100 + 50 + 10 + 10


def test_hourly_by_key_and_weekly_by_user(owner, member, outsider, api):
    seed(owner, member, outsider)
    hourly = api.get(URL + "&bucket=hour&group_by=key").json()["rows"]
    assert [(r["bucket"][11:16], r["label"], r["calls"]) for r in hourly] == [
        ("10:00", owner.key.display_prefix, 2),
        ("11:00", owner.key.display_prefix, 1),
        ("11:00", member.key.display_prefix, 1),
    ]
    weekly = api.get(URL + "&bucket=week&group_by=user").json()["rows"]
    assert {(r["bucket"][:10], r["label"], r["calls"]) for r in weekly} == {
        ("2026-03-02", "alice@acme.test", 3),
        ("2026-03-02", "bob@acme.test", 1),
    }


def test_outsider_sees_only_their_own_and_404_on_ours(owner, member, outsider, as_outsider):
    seed(owner, member, outsider)
    body = as_outsider.get(URL + "&group_by=none").json()
    assert body["totals"]["calls"] == 1 and Decimal(body["totals"]["cost_usd"]) == 99
    assert as_outsider.get(URL + f"&workspace={owner.workspace.pk}").status_code == 404
    assert as_outsider.get(URL + f"&organization={owner.organization.pk}").status_code == 404


def test_workspace_filter_without_runs_read_is_403(owner, invoker_key):
    response = key_client(invoker_key).get(URL + f"&workspace={owner.workspace.pk}")
    assert response.status_code == 403


def test_bad_ranges_are_400(owner, api):
    assert (
        api.get(
            "/api/v1/usage/?bucket=hour&since=2026-01-01T00:00:00Z&until=2026-03-01T00:00:00Z"
        ).status_code
        == 400
    )
    assert (
        api.get("/api/v1/usage/?since=2026-03-02T00:00:00Z&until=2026-03-01T00:00:00Z").status_code
        == 400
    )
    assert api.get("/api/v1/usage/?bucket=month").status_code == 400
    assert api.get("/api/v1/usage/").status_code == 200


def test_rows_are_rendered_exactly_as_the_documented_serializer(owner, member, outsider, api):
    from api.usage import UsageQuery, usage_summary
    from api.views.usage import UsageRowOutput

    seed(owner, member, outsider)
    body = api.get(URL + "&bucket=hour&group_by=key").json()
    query = UsageQuery(
        since=T0.replace(hour=0, minute=0),
        until=T0.replace(hour=0, minute=0) + dt.timedelta(days=7),
        bucket="hour",
        group_by="key",
        workspace_ids={owner.workspace.pk},
    )
    expected = UsageRowOutput(usage_summary(query=query)["rows"], many=True).data
    assert body["rows"] == [dict(r) for r in expected]
