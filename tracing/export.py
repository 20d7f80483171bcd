"""Runs as plain JSON objects: the export format (one object per line, JSONL).

Every stored field of a run is written, with ids as integers, times as ISO 8601 UTC, the run
id as a UUID string and the cost as a decimal string (exact, never a binary float), so an
export can be parsed back into the same values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import orjson

from tracing.models import TOKEN_FIELDS, Run

FIELDS = (
    "run_id",
    "trace_id",
    "name",
    "started_at",
    "ended_at",
    "first_token_at",
    "status",
    "http_status",
    "error",
    "dialect",
    "provider",
    "model",
    "method",
    "path",
    "stream",
    "organization_id",
    "workspace_id",
    "key_id",
    "key_prefix",
    "user_id",
    *TOKEN_FIELDS,
    "cost_usd",
    "price_missing",
    "usage_estimated",
    "usage_note",
    "policy_outcome",
    "policy_results",
    "redaction_counts",
    "user_agent",
    "request_metadata",
    "request_content",
    "response_content",
)


def _value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def run_to_dict(run: Run, *, project_name: str) -> dict[str, Any]:
    data = {name: _value(getattr(run, name)) for name in FIELDS}
    data["run_id"] = str(run.run_id)
    data["project"] = project_name
    return data


def runs_write_jsonl(
    runs: Iterator[Run], write: Callable[[bytes], Any], *, project_name: str
) -> int:
    """Hand one JSON line (bytes) per run to `write`; return the count."""
    count = 0
    for run in runs:
        write(orjson.dumps(run_to_dict(run, project_name=project_name)) + b"\n")
        count += 1
    return count
