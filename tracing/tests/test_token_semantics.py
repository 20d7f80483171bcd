"""Every surface reads the same token counts: a run, its usage row, the daily rollup, the
management API, the export, the admin totals and the OTLP attributes all give input_tokens as
every input token (cache reads and writes included), with the same breakdowns; and rows stored
before that meaning are migrated to it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from api.tests.conftest import key_client
from pricing.table import cost
from proxy.providers import anthropic
from tracing.export import run_to_dict
from tracing.models import TOKEN_FIELDS, Run, UsageDaily, UsageRecord
from tracing.otlp import span_attributes
from tracing.rollup import usage_rollup_refresh
from tracing.selectors import run_totals
from tracing.services import runs_ingest
from tracing.tests.factories import call_record

DAY = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_every_surface_counts_cached_input_in_input_tokens(owner):
    from pricing.table import PriceTable

    usage = anthropic.usage_from_body(
        "Messages",
        {
            "usage": {
                "input_tokens": 200,
                "cache_read_input_tokens": 900,
                "cache_creation_input_tokens": 100,
                "output_tokens": 30,
            }
        },
    )
    price = PriceTable.load().get("claude-haiku-4-5")
    record = call_record(
        owner,
        started_at=DAY.timestamp(),
        ended_at=DAY.timestamp() + 1,
        name="Messages",
        dialect="anthropic",
        provider="anthropic",
        model="claude-haiku-4-5",
        cost_usd=cost(price, usage),
        **{name: getattr(usage, name) for name in TOKEN_FIELDS},
    )
    expected = {name: getattr(usage, name) for name in TOKEN_FIELDS}
    assert expected["input_tokens"] == 1200 and expected["cache_read_tokens"] == 900
    assert runs_ingest([record]) == 1

    run = Run.objects.get(run_id=record.run_id)
    row = UsageRecord.objects.get(run_id=record.run_id)
    assert {n: getattr(run, n) for n in TOKEN_FIELDS} == expected
    assert {n: getattr(row, n) for n in TOKEN_FIELDS} == expected

    usage_rollup_refresh(now=DAY + dt.timedelta(days=1))
    daily = UsageDaily.objects.get(workspace_id=owner.workspace.pk, day=DAY.date())
    assert {n: getattr(daily, n) for n in TOKEN_FIELDS} == expected

    body = (
        key_client(owner.plaintext_key)
        .get("/api/v1/usage/?since=2026-03-01T00:00:00Z&until=2026-03-04T00:00:00Z&bucket=day")
        .json()
    )
    assert {n: body["totals"][n] for n in TOKEN_FIELDS} == expected  # read from the rollup
    api_run = (
        key_client(owner.plaintext_key)
        .get(f"/api/v1/workspaces/{owner.workspace.pk}/runs/{record.run_id}/")
        .json()
    )
    assert {n: api_run[n] for n in TOKEN_FIELDS} == expected

    exported = run_to_dict(run, project_name="gateway")
    assert {n: exported[n] for n in TOKEN_FIELDS} == expected

    totals = run_totals(Run.objects.filter(workspace_id=owner.workspace.pk))
    assert totals["input_tokens"] == 1200 and totals["total_tokens"] == 1230

    attrs = span_attributes(record)
    assert attrs["gen_ai.usage.input_tokens"] == 1200
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 900
    assert attrs["gen_ai.usage.cache_creation.input_tokens"] == 100
    assert attrs["gen_ai.usage.output_tokens"] == 30


# serialized_rollback: the flush after this test must not leave content types behind for the
# end-to-end modules that follow (see conftest.py).
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_migration_adds_cache_reads_and_writes_to_stored_input_tokens():
    before, after = (
        [("tracing", "0006_usage_audio_and_estimates")],
        [("tracing", "0007_input_tokens_include_cache")],
    )
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    Organization = apps.get_model("orgs", "Organization")
    Workspace = apps.get_model("orgs", "Workspace")
    Project = apps.get_model("tracing", "TracingProject")
    OldRun = apps.get_model("tracing", "Run")
    OldUsage = apps.get_model("tracing", "UsageRecord")
    OldDaily = apps.get_model("tracing", "UsageDaily")
    org = Organization.objects.create(slug="mig", name="mig")
    ws = Workspace.objects.create(organization=org, slug="w", name="w")
    project = Project.objects.create(workspace=ws, name="gateway")
    rows = {  # uncached input as stored before, cache read, cache write
        "a" * 32: (200, 900, 100),
        "b" * 32: (50, 0, 0),
        "c" * 32: (2**31 - 10, 5, 5),  # would overflow the column: kept at its maximum
    }
    for run_id, (uncached, read, write) in rows.items():
        common = {
            "run_id": run_id,
            "started_at": DAY,
            "status": "success",
            "input_tokens": uncached,
            "cache_read_tokens": read,
            "cache_write_tokens": write,
        }
        OldRun.objects.create(project=project, trace_id=run_id, **common)
        OldUsage.objects.create(**common)
    OldDaily.objects.create(
        day=DAY.date(), input_tokens=250, cache_read_tokens=900, cache_write_tokens=100
    )

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    apps = executor.loader.project_state(after).apps
    for model in ("Run", "UsageRecord"):
        stored = dict(
            apps.get_model("tracing", model).objects.values_list("run_id", "input_tokens")
        )
        assert {k.hex: v for k, v in stored.items()} == {
            "a" * 32: 1200,
            "b" * 32: 50,
            "c" * 32: 2**31 - 1,
        }
    assert apps.get_model("tracing", "UsageDaily").objects.get().input_tokens == 1250

    executor = MigrationExecutor(connection)
    executor.migrate(before)  # and back
    apps = executor.loader.project_state(before).apps
    run = apps.get_model("tracing", "Run").objects.get(run_id="a" * 32)
    assert run.input_tokens == 200
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
