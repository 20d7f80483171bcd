"""Usage summaries: spend and tokens by model, key or user over a time range, in hourly, daily
or weekly buckets. Scoped like traces: workspaces where the caller holds projects:read and
runs:read (who can read the runs can read what they cost)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.permissions import organization_for, principal_of, workspace_for
from api.schema import responses
from api.usage import (
    GROUP_FIELDS,
    TOKEN_FIELDS,
    TRUNC,
    UsageQuery,
    usage_range_error,
    usage_summary,
)
from api.views.base import ApiView
from tracing.models import TOKEN_HELP
from tracing.selectors import run_workspace_ids

DEFAULT_RANGE = dt.timedelta(days=7)


class UsageRowOutput(serializers.Serializer):
    bucket = serializers.DateTimeField(help_text="Start of the bucket (UTC).")
    group = serializers.CharField(allow_null=True, help_text="Model name, key id or user id.")
    label = serializers.CharField(help_text="Model name, key prefix or username.")
    calls = serializers.IntegerField()
    input_tokens = serializers.IntegerField(help_text=TOKEN_HELP["input_tokens"])
    output_tokens = serializers.IntegerField(help_text=TOKEN_HELP["output_tokens"])
    cache_read_tokens = serializers.IntegerField(help_text=TOKEN_HELP["cache_read_tokens"])
    cache_write_tokens = serializers.IntegerField(help_text=TOKEN_HELP["cache_write_tokens"])
    reasoning_tokens = serializers.IntegerField(help_text=TOKEN_HELP["reasoning_tokens"])
    audio_input_tokens = serializers.IntegerField(help_text=TOKEN_HELP["audio_input_tokens"])
    audio_output_tokens = serializers.IntegerField(help_text=TOKEN_HELP["audio_output_tokens"])
    cost_usd = serializers.DecimalField(max_digits=20, decimal_places=10, allow_null=True)
    unpriced_calls = serializers.IntegerField(help_text="Calls whose model had no price.")

    class Meta:
        ref_name = "UsageRow"


class UsageTotalsOutput(UsageRowOutput):
    bucket = None
    group = None
    label = None

    class Meta:
        ref_name = "UsageTotals"


class UsageSummaryOutput(serializers.Serializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    bucket = serializers.CharField()
    group_by = serializers.CharField()
    rows = UsageRowOutput(many=True)
    totals = UsageTotalsOutput()

    class Meta:
        ref_name = "UsageSummary"


class UsageSummaryApi(ApiView):
    class FilterSerializer(serializers.Serializer):
        since = serializers.DateTimeField(required=False, help_text="Default: 7 days before until.")
        until = serializers.DateTimeField(required=False, help_text="Default: now.")
        bucket = serializers.ChoiceField(choices=list(TRUNC), default="day")
        group_by = serializers.ChoiceField(choices=list(GROUP_FIELDS), default="model")
        workspace = serializers.IntegerField(required=False, min_value=1)
        organization = serializers.IntegerField(required=False, min_value=1)
        customer = serializers.CharField(
            required=False,
            max_length=128,
            help_text="Only the calls that named this customer (x-gateway-customer).",
        )

    @extend_schema(
        operation_id="usage_summary",
        parameters=[FilterSerializer],
        responses=responses(UsageSummaryOutput, 400, 403, 404),
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        until = data.get("until") or timezone.now()
        since = data.get("since") or until - DEFAULT_RANGE
        error = usage_range_error(since=since, until=until, bucket=data["bucket"])
        if error:
            raise exceptions.ValidationError({"since": [error]})
        query = UsageQuery(
            since=since,
            until=until,
            bucket=data["bucket"],
            group_by=data["group_by"],
            workspace_ids=_workspace_ids(request, data),
            organization_id=data.get("organization"),
            customer=data.get("customer"),
        )
        summary = usage_summary(query=query)
        head = {
            "since": since,
            "until": until,
            "bucket": data["bucket"],
            "group_by": data["group_by"],
        }
        body = dict(UsageSummaryOutput({**head, "rows": [], "totals": summary["totals"]}).data)
        body["rows"] = [_row_json(row) for row in summary["rows"]]
        return Response(body)


def _row_json(row: dict[str, Any]) -> dict[str, Any]:
    """One row in exactly UsageRowOutput's representation (DRF's ISO 8601 with Z, decimals with
    10 places), formatted directly: a summary can hold thousands of rows, and DRF's per-field
    serialization cost more than the database query for them (measured in the bench)."""
    cost = row["cost_usd"]
    return {
        "bucket": row["bucket"].astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "group": row["group"],
        "label": row["label"],
        **{name: row[name] for name in ("calls", *TOKEN_FIELDS)},
        "cost_usd": None if cost is None else f"{cost:.10f}",
        "unpriced_calls": row["unpriced_calls"],
    }


def _workspace_ids(request: Request, data: dict) -> set[int] | None:
    """The workspaces summarised: those whose runs the caller may read, narrowed by the filters
    (a named workspace or organization the caller cannot see is 404; one it sees but whose runs
    it may not read is 403)."""
    ids = run_workspace_ids(principal_of(request))
    if "organization" in data:
        organization_for(request, data["organization"])
    if "workspace" in data:
        ws = workspace_for(request, data["workspace"], "runs:read")
        workspace_for(request, data["workspace"], "projects:read")
        return {ws.pk}
    return ids
