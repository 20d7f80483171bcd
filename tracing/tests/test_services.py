from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.db import connection

from hotpath.refusals import RefusedCalls
from tracing.models import Run, SecurityEvent, TracingProject, UsageRecord
from tracing.services import records_ingest, runs_ingest, runs_prune
from tracing.tests.factories import call_record

pytestmark = pytest.mark.django_db


def test_it_stores_tokens_cost_and_caller(owner):
    record = call_record(owner, reasoning_tokens=5, cache_write_tokens=7)
    assert runs_ingest([record]) == 1
    run = Run.objects.get(run_id=uuid.UUID(record.run_id))
    assert run.project.name == "gateway"
    assert run.project.workspace == owner.workspace
    assert (run.input_tokens, run.output_tokens, run.cache_read_tokens) == (120, 30, 10)
    assert (run.cache_write_tokens, run.reasoning_tokens) == (7, 5)
    assert run.cost_usd == Decimal("0.0000375000")
    assert run.key_id == owner.key.pk
    assert run.key_prefix == owner.key.display_prefix
    assert run.user_id == owner.user.pk
    assert run.organization_id == owner.organization.pk
    assert run.status == "success"
    assert run.policy_outcome == "none"
    assert run.started_at == dt.datetime.fromtimestamp(record.started_at, tz=dt.UTC)
    usage = UsageRecord.objects.get(run_id=run.run_id)
    assert (usage.workspace_id, usage.key_id, usage.user_id) == (
        owner.workspace.pk,
        owner.key.pk,
        owner.user.pk,
    )
    assert usage.cost_usd == run.cost_usd
    assert usage.input_tokens == 120


def test_replaying_the_same_batch_stores_each_run_once(owner):
    batch = [call_record(owner) for _ in range(5)]
    assert runs_ingest(batch) == 5
    assert runs_ingest(batch) == 0
    assert runs_ingest(batch + batch[:2]) == 0
    assert Run.objects.count() == 5
    assert UsageRecord.objects.count() == 5
    assert TracingProject.objects.count() == 1


def test_content_is_absent_unless_the_workspace_turns_it_on(owner):
    off = call_record(owner)
    runs_ingest([off])
    run = Run.objects.get(run_id=uuid.UUID(off.run_id))
    assert run.request_content is None
    assert run.response_content is None

    owner.workspace.trace_content = True
    owner.workspace.save()
    on = call_record(owner)
    runs_ingest([on])
    run = Run.objects.get(run_id=uuid.UUID(on.run_id))
    assert run.request_content == {"messages": [{"role": "user", "content": "hello"}]}
    assert run.response_content == {"choices": [{"message": {"content": "hi"}}]}


def test_a_project_header_routes_to_a_project_created_on_first_use(owner, outsider):
    runs_ingest(
        [call_record(owner, project_name="agents"), call_record(outsider, project_name="agents")]
    )
    projects = TracingProject.objects.filter(name="agents")
    assert {p.workspace_id for p in projects} == {owner.workspace.pk, outsider.workspace.pk}
    runs_ingest([call_record(owner, project_name="agents")])
    assert TracingProject.objects.filter(name="agents").count() == 2
    assert (
        Run.objects.filter(project__workspace=owner.workspace, project__name="agents").count() == 2
    )


def test_it_falls_back_to_gateway_for_an_invalid_project_name(owner):
    runs_ingest([call_record(owner, project_name="../etc passwd")])
    assert Run.objects.get().project.name == "gateway"


def test_records_without_a_workspace_or_run_id_are_dropped(owner):
    assert runs_ingest([call_record(None), call_record(owner, run_id="not-a-uuid")]) == 0
    assert Run.objects.count() == 0


def test_a_blocked_call_keeps_its_policy_outcome(owner):
    record = call_record(
        owner,
        status="blocked",
        http_status=402,
        output_tokens=0,
        cost_usd=None,
        policy_results={"violated": [{"id": 3, "name": "team cap"}]},
    )
    runs_ingest([record])
    run = Run.objects.get()
    assert (run.status, run.http_status, run.policy_outcome) == ("blocked", 402, "blocked")
    assert run.cost_usd is None
    assert run.policy_results == {"violated": [{"id": 3, "name": "team cap"}]}


def test_redaction_counts_mark_the_run_redacted(owner):
    runs_ingest([call_record(owner, redaction_counts={"EMAIL": 2})])
    assert Run.objects.get().policy_outcome == "redacted"


def test_prune_deletes_only_old_runs_and_keeps_recent_usage(owner):
    now = dt.datetime.now(tz=dt.UTC)
    old = call_record(owner, started_at=(now - dt.timedelta(days=31)).timestamp())
    ancient = call_record(owner, started_at=(now - dt.timedelta(days=500)).timestamp())
    fresh = call_record(owner, started_at=(now - dt.timedelta(days=29)).timestamp())
    runs_ingest([old, ancient, fresh])
    runs_deleted, usage_deleted = runs_prune(run_days=30, usage_days=400, batch_size=1)
    assert (runs_deleted, usage_deleted) == (2, 1)
    assert [r.hex for r in Run.objects.values_list("run_id", flat=True)] == [fresh.run_id]
    assert UsageRecord.objects.count() == 2


def test_prune_never_deletes_usage_newer_than_40_days(owner):
    now = dt.datetime.now(tz=dt.UTC)
    runs_ingest([call_record(owner, started_at=(now - dt.timedelta(days=35)).timestamp())])
    assert runs_prune(run_days=1, usage_days=1) == (1, 0)
    assert UsageRecord.objects.count() == 1


def test_a_batch_mixing_stored_and_new_runs_stores_only_the_new(owner):
    stored = [call_record(owner) for _ in range(3)]
    runs_ingest(stored)
    new = [call_record(owner) for _ in range(2)]
    assert runs_ingest([*stored, *new]) == 2
    assert Run.objects.count() == 5
    assert UsageRecord.objects.count() == 5


def test_the_prune_task_applies_the_retention_settings(settings, owner):
    from tracing.tasks import prune_runs

    settings.GATEWAY_TRACE_RETENTION_DAYS = 7
    settings.GATEWAY_USAGE_RETENTION_DAYS = 40
    now = dt.datetime.now(tz=dt.UTC)
    runs_ingest(
        [
            call_record(owner, started_at=(now - dt.timedelta(days=8)).timestamp()),
            call_record(owner, started_at=(now - dt.timedelta(days=41)).timestamp()),
            call_record(owner, started_at=(now - dt.timedelta(days=1)).timestamp()),
        ]
    )
    records_ingest(
        [
            RefusedCalls(
                minute=int((now - dt.timedelta(days=8)).timestamp()), reason="invalid_key"
            ),
            RefusedCalls(minute=int(now.timestamp()), reason="invalid_key"),
        ]
    )
    assert prune_runs() == [2, 1, 1]
    assert SecurityEvent.objects.count() == 1
    assert Run.objects.count() == 1
    assert UsageRecord.objects.count() == 2


def test_retention_zero_keeps_runs_forever(settings, owner):
    from tracing.tasks import prune_runs

    settings.GATEWAY_TRACE_RETENTION_DAYS = 0
    old = dt.datetime.now(tz=dt.UTC) - dt.timedelta(days=3000)
    runs_ingest([call_record(owner, started_at=old.timestamp())])
    assert prune_runs() == [0, 1, 0]
    assert Run.objects.count() == 1


def test_odd_values_from_a_provider_or_caller_never_fail_the_batch(owner):
    owner.workspace.trace_content = True
    owner.workspace.save()
    odd = call_record(
        owner,
        input_tokens=-5,
        output_tokens=10**12,
        cost_usd=float("nan"),
        status="weird-status-value",
        user_agent="agent\x00with-nul",
        error="boom\x00",
        request_content={"messages": [{"role": "user", "content": "nul \x00 here"}]},
    )
    fine = call_record(owner)
    assert runs_ingest([odd, fine]) == 2
    run = Run.objects.get(run_id=uuid.UUID(odd.run_id))
    assert (run.input_tokens, run.output_tokens) == (0, 2**31 - 1)
    assert run.cost_usd is None
    assert run.status == "error"
    assert "\x00" not in run.user_agent
    # PostgreSQL's jsonb cannot hold NUL, so it becomes U+FFFD there; SQLite keeps it.
    expected = "nul \ufffd here" if connection.vendor == "postgresql" else "nul \x00 here"
    assert run.request_content["messages"][0]["content"] == expected


@pytest.mark.postgres  # SQLite stores whatever it is given
def test_a_record_the_database_refuses_is_dropped_alone(owner):
    from tracing.services import runs_ingest_tolerant

    refused = call_record(owner, cost_usd=1e12)  # beyond the cost column's 10 integer digits
    fine = [call_record(owner), call_record(owner)]
    stored = runs_ingest_tolerant([refused, *fine])
    assert stored == 2
    assert {u.hex for u in Run.objects.values_list("run_id", flat=True)} == {r.run_id for r in fine}


def test_a_run_read_back_through_the_orm_has_every_value_the_record_had(owner):
    """The SQLite writer inserts plain rows (no model instances): the ORM must read them back
    exactly, whatever the types (the PostgreSQL COPY path is held to the same)."""
    owner.workspace.trace_content = True
    owner.workspace.save()
    started = 1_767_225_600.5  # microseconds present
    record = call_record(
        owner,
        started_at=started,
        ended_at=started + 1.5,  # whole second: no microseconds in its text form
        first_token_at=None,
        cost_usd=0.123456789,
        stream=True,
        request_content="a text prefix, not JSON",
        response_content={"nested": [1, "two", None, {"é": True}]},
        policy_results={"matched": [{"id": 3, "name": "cap"}]},
        redaction_counts={"EMAIL": 2},
    )
    runs_ingest([record])
    run = Run.objects.get(run_id=uuid.UUID(record.run_id))
    assert run.started_at == dt.datetime.fromtimestamp(started, tz=dt.UTC)
    assert run.ended_at == dt.datetime.fromtimestamp(started + 1.5, tz=dt.UTC)
    assert run.first_token_at is None
    assert run.cost_usd == Decimal("0.1234567890")
    assert run.stream is True and run.price_missing is False
    assert run.request_content == "a text prefix, not JSON"
    assert run.response_content == {"nested": [1, "two", None, {"é": True}]}
    assert run.policy_results == {"matched": [{"id": 3, "name": "cap"}]}
    assert run.redaction_counts == {"EMAIL": 2}
    assert run.request_metadata == {"x-gateway-tag": "demo"}
    assert Run.objects.filter(started_at__lt=run.ended_at, ended_at__gt=run.started_at).exists()


def test_decoded_records_are_stored_from_their_dicts_and_an_unusable_one_is_dropped(owner):
    """The drain and the spool hand runs_ingest the dicts they decode: missing fields take
    CallRecord's defaults, and a record without a start time is dropped, not the batch."""
    import uuid

    good = call_record(owner, model="gpt-5").to_dict()
    sparse = {"run_id": uuid.uuid4().hex, "workspace_id": owner.workspace.pk, "started_at": 1.5e9}
    broken = {**call_record(owner).to_dict(), "started_at": "yesterday"}
    assert runs_ingest([good, sparse, broken]) == 2
    stored = Run.objects.get(run_id=sparse["run_id"])
    assert (stored.method, stored.status, stored.http_status, stored.project.name) == (
        "POST",
        "success",
        200,
        "gateway",
    )
    assert stored.trace_id == sparse["run_id"] and stored.input_tokens == 0
    assert Run.objects.get(run_id=good["run_id"]).model == "gpt-5"
    assert runs_ingest([good]) == 0  # redelivered
