"""The runs list's totals come from the hourly run totals (plus the runs of a range's partial
edge hours) and equal a raw aggregate of the filtered runs, through ingestion (redeliveries
included), every filter combination the hourly totals answer, the runs of the current hour,
and retention; the list never counts runs with a COUNT(*)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tracing import partitions
from tracing.models import Run, RunHourly, TracingProject
from tracing.selectors import RunSlice, run_totals, run_totals_of
from tracing.services import runs_ingest, runs_prune
from tracing.tests.factories import call_record

pytestmark = pytest.mark.django_db

LIST_URL = "/admin/tracing/run/"
NOW = dt.datetime.now(tz=dt.UTC)
MODELS = ("gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5")


def _records(owner, member, *, count: int = 48, spacing_minutes: int = 47) -> list:
    """Calls spread over the last days (every few of them in the current hour), of two keys
    and users, three models, two projects, every status, some unpriced, some of a customer."""
    records = []
    for i in range(count):
        persona = owner if i % 3 else member
        started = NOW - dt.timedelta(minutes=i * spacing_minutes + (i % 4) * 3 + 1)
        status = ("success", "success", "error", "blocked")[i % 4]
        records.append(
            call_record(
                persona,
                started_at=started.timestamp(),
                ended_at=started.timestamp() + 0.5,
                model=MODELS[i % 3],
                status=status,
                http_status={"success": 200, "error": 502, "blocked": 402}[status],
                input_tokens=100 + i,
                output_tokens=7 * i,
                cost_usd=None if i % 5 == 0 else 0.0000375 * (i + 1),
                project_name="batch" if i % 7 == 0 else "gateway",
                customer="c-1" if i % 6 == 0 else "",
            )
        )
    for days in (3, 9, 12):  # older days, whole ones in the hourly totals
        started = (NOW - dt.timedelta(days=days)).timestamp()
        records.append(call_record(owner, started_at=started, ended_at=started + 1))
    return records


def _shown(client, query: str) -> tuple[dict, dict]:
    """(totals the page shows, run_totals of the very runs the page filters)."""
    response = client.get(LIST_URL + query)
    assert response.status_code == 200, query
    return response.context["run_totals"], run_totals(response.context["cl"].queryset)


def _same(shown: dict, raw: dict) -> None:
    for name in ("calls", "input_tokens", "output_tokens", "total_tokens", "unpriced"):
        assert shown[name] == raw[name], name
    if raw["cost_usd"] is None:
        assert shown["cost_usd"] is None
    elif connection.vendor == "postgresql":  # numeric sums are exact
        assert shown["cost_usd"] == raw["cost_usd"]
    else:  # SQLite sums decimals as floats, the raw aggregate too
        assert float(shown["cost_usd"]) == pytest.approx(float(raw["cost_usd"]), rel=1e-12)


def test_totals_equal_a_raw_aggregate_for_every_range_and_filter(client, owner, member):
    records = _records(owner, member)
    assert runs_ingest(records) == len(records)
    assert runs_ingest(records[:10]) == 0  # redelivered: counted once
    client.force_login(owner.user)
    project = TracingProject.objects.get(workspace=owner.workspace, name="batch")
    since = (NOW - dt.timedelta(hours=30, minutes=13)).isoformat()
    until = (NOW - dt.timedelta(hours=2, minutes=41)).isoformat()
    queries = [
        "?period=all",
        "",
        "?period=1h",
        "?period=7d",
        "?period=30d",
        f"?since={since}",
        f"?since={since}&until={until}",
        f"?until={until}&period=all",
        "?period=all&model=gpt-4o",
        "?period=7d&model=gpt-4o-mini&status__exact=error",
        f"?since={since}&key={member.key.pk}&policy_outcome__exact=blocked",
        f"?period=all&project={project.pk}&user={owner.user.pk}",
        "?period=24h&status__exact=blocked&model=claude-sonnet-4-5",
    ]
    for query in queries:
        shown, raw = _shown(client, query)
        assert shown["source"] == "hourly totals", query
        assert shown["exact"] and not shown["capped"]
        _same(shown, raw)
    assert _shown(client, "?period=all")[0]["calls"] == len(records)


def test_any_time_reads_no_run_to_total_or_count_them(client, owner, member):
    runs_ingest(_records(owner, member))
    client.force_login(owner.user)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(LIST_URL + "?period=all")
    assert response.status_code == 200
    on_runs = [q["sql"] for q in captured.captured_queries if '"tracing_run"' in q["sql"]]
    assert on_runs  # the page's rows
    assert not [sql for sql in on_runs if "COUNT(" in sql or "SUM(" in sql]
    assert response.context["cl"].result_count == Run.objects.count()


def test_a_customer_filter_or_a_search_totals_the_runs_themselves(client, owner, member):
    records = _records(owner, member)
    runs_ingest(records)
    client.force_login(owner.user)
    for query in ("?period=all&customer=c-1", f"?period=all&q={records[4].trace_id}"):
        shown, raw = _shown(client, query)
        assert shown["source"] == "runs" and shown["exact"]
        _same(shown, raw)
    assert _shown(client, f"?period=all&q={records[4].trace_id}")[0]["calls"] == 1


def test_totals_over_more_runs_than_the_cap_say_so_and_total_no_tokens(owner, member):
    runs_ingest(_records(owner, member))
    runs = Run.objects.filter(workspace=owner.workspace, customer="c-1")
    assert runs.count() == 8
    totals = run_totals_of(
        runs=runs,
        workspace_ids={owner.workspace.pk},
        where=RunSlice(raw_only=True),
        raw_cap=5,
    )
    assert totals["capped"] and not totals["exact"]
    assert totals["calls"] == 5  # a lower bound, shown as "more than 5"
    assert totals["input_tokens"] is None and totals["cost_usd"] is None
    exact = run_totals_of(
        runs=runs, workspace_ids={owner.workspace.pk}, where=RunSlice(raw_only=True), raw_cap=8
    )
    assert exact["exact"] and exact["calls"] == 8


def test_an_outsider_sees_no_totals_of_another_workspace(client, owner, member, outsider):
    runs_ingest(_records(owner, member))
    client.force_login(outsider.user)
    shown, raw = _shown(client, "?period=all")
    assert shown["calls"] == 0 == raw["calls"]
    assert shown["cost_usd"] is None


def test_retention_keeps_the_totals_exact(client, owner, member):
    if partitions.supported():  # days of their own for the older runs, and DEFAULT for older
        partitions.partitions_ensure(now=NOW, since=NOW - dt.timedelta(days=10))
    records = _records(owner, member, count=60, spacing_minutes=131)  # about 5.5 days
    old = (NOW - dt.timedelta(days=40)).timestamp()  # before every partition: DEFAULT on PG
    records.append(call_record(owner, started_at=old, ended_at=old + 1))
    runs_ingest(records)
    removed, _ = runs_prune(now=NOW, run_days=2)
    assert removed > 0
    client.force_login(owner.user)
    for query in ("?period=all", "?period=7d&model=gpt-4o", "?period=all&status__exact=error"):
        shown, raw = _shown(client, query)
        _same(shown, raw)
    assert RunHourly.objects.filter(hour__lt=NOW - dt.timedelta(days=4)).count() == 0


def test_the_rebuild_command_gives_the_totals_ingestion_kept(owner, member):
    runs_ingest(_records(owner, member))
    columns = ("hour", "project_id", "key_id", "user_id", "model", "status", "calls", "cost_usd")
    kept = sorted(RunHourly.objects.values_list(*columns))
    RunHourly.objects.all().delete()
    out = StringIO()
    call_command("gateway_run_totals_rebuild", stdout=out)
    assert f"{len(kept)} hourly rows written" in out.getvalue()
    assert sorted(RunHourly.objects.values_list(*columns)) == kept


def test_the_hourly_totals_keep_cost_exact_to_the_column(owner):
    runs_ingest([call_record(owner, cost_usd=0.1), call_record(owner, cost_usd=0.2)])
    row = RunHourly.objects.get()
    assert Decimal(row.cost_usd).quantize(Decimal("1e-10")) == Decimal("0.3000000000")
    assert row.calls == 2 and row.key_id == owner.key.pk and row.user_id == owner.user.pk


def test_deleting_a_workspace_deletes_its_hourly_totals_in_the_same_transaction(owner):
    from django.db import transaction

    from orgs import services
    from orgs.models import Workspace

    other = services.workspace_upsert(organization=owner.organization, slug="gone")
    runs_ingest(
        [
            call_record(owner, started_at=(NOW - dt.timedelta(hours=h)).timestamp())
            for h in (0, 3, 30)
        ]
        + [
            call_record(
                owner, workspace_id=other.pk, started_at=(NOW - dt.timedelta(hours=h)).timestamp()
            )
            for h in (1, 2)
        ]
    )
    gone = other.pk
    assert RunHourly.objects.filter(workspace_id=gone).count() == 2
    with pytest.raises(RuntimeError), transaction.atomic():  # rolled back: the totals stay
        Workspace.objects.get(pk=gone).delete()
        assert not RunHourly.objects.filter(workspace_id=gone).exists()
        raise RuntimeError
    assert RunHourly.objects.filter(workspace_id=gone).count() == 2
    Workspace.objects.get(pk=gone).delete()
    assert not RunHourly.objects.filter(workspace_id=gone).exists()
    assert not Run.objects.filter(workspace_id=gone).exists()
    assert sum(RunHourly.objects.values_list("calls", flat=True)) == 3  # the other workspace's
