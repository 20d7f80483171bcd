from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from tracing.models import Run
from tracing.services import runs_ingest
from tracing.tests.factories import call_record

pytestmark = pytest.mark.django_db


def parse_time(value):
    return None if value is None else dt.datetime.fromisoformat(value)


def test_the_export_round_trips(tmp_path, owner, outsider):
    owner.workspace.trace_content = True
    owner.workspace.save()
    records = [
        call_record(owner, cost_usd=0.123456789, reasoning_tokens=3),
        call_record(
            owner,
            status="blocked",
            http_status=402,
            cost_usd=None,
            policy_results={"violated": [{"id": 1, "name": "cap"}]},
        ),
        call_record(owner, started_at=1_700_000_000.25, ended_at=None, first_token_at=None),
    ]
    runs_ingest([*records, call_record(outsider), call_record(owner, project_name="other")])
    out = tmp_path / "runs.jsonl"
    call_command(
        "gateway_export_runs",
        "acme/main",
        "--project",
        "gateway",
        "--format",
        "jsonl",
        "--out",
        str(out),
        stderr=io.StringIO(),
    )
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert {line["run_id"] for line in lines} == {str(uuid.UUID(r.run_id)) for r in records}
    for line in lines:
        run = Run.objects.get(run_id=uuid.UUID(line["run_id"]))
        assert line["project"] == "gateway"
        assert parse_time(line["started_at"]) == run.started_at
        assert parse_time(line["ended_at"]) == run.ended_at
        assert parse_time(line["first_token_at"]) == run.first_token_at
        assert (None if line["cost_usd"] is None else Decimal(line["cost_usd"])) == run.cost_usd
        for name in (
            "trace_id",
            "status",
            "http_status",
            "model",
            "key_id",
            "key_prefix",
            "user_id",
            "input_tokens",
            "output_tokens",
            "reasoning_tokens",
            "policy_results",
            "policy_outcome",
            "request_content",
            "response_content",
        ):
            assert line[name] == getattr(run, name), name
    started = [parse_time(line["started_at"]) for line in lines]
    assert started == sorted(started)


def test_the_export_honours_the_time_range_on_stdout(owner):
    runs_ingest(
        [
            call_record(owner, started_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp()),
            call_record(owner, started_at=dt.datetime(2026, 2, 1, tzinfo=dt.UTC).timestamp()),
        ]
    )
    stdout = io.StringIO()
    call_command(
        "gateway_export_runs",
        "acme/main",
        "--since",
        "2026-01-15T00:00:00Z",
        "--until",
        "2026-03-01T00:00:00+00:00",
        stdout=stdout,
        stderr=io.StringIO(),
    )
    lines = [json.loads(line) for line in stdout.getvalue().splitlines()]
    assert [line["started_at"] for line in lines] == ["2026-02-01T00:00:00+00:00"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["acme/nope"], "no workspace 'acme/nope'"),
        (["acme"], "workspace must be ORG/WS"),
        (["acme/main", "--project", "missing"], "no project 'missing' in acme/main"),
        (["acme/main", "--format", "csv"], "unsupported --format 'csv'"),
        (["acme/main", "--since", "last week"], "--since must be an ISO 8601"),
    ],
)
def test_bad_arguments_get_a_clear_error(owner, args, message):
    runs_ingest([call_record(owner)])
    with pytest.raises(CommandError, match=message):
        call_command("gateway_export_runs", *args, stdout=io.StringIO(), stderr=io.StringIO())
