"""Tracing projects and runs of a workspace: the admin's runs list as an API (same filters: time
range, project, key, user, model, status, policy outcome, trace id), cursor-paginated newest
first, and one run. Reading runs needs projects:read and runs:read (tracing.selectors)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.pagination import PAGE_PARAMETERS, Cursor, page_of
from api.permissions import principal_of, workspace_for
from api.schema import responses
from api.views.base import ApiView
from orgs.models import Workspace
from tracing.models import TOKEN_FIELDS, Run, TracingProject
from tracing.selectors import project_list, run_list

PERIODS = {
    "1h": dt.timedelta(hours=1),
    "24h": dt.timedelta(days=1),
    "7d": dt.timedelta(days=7),
    "30d": dt.timedelta(days=30),
}


class ProjectOutput(serializers.ModelSerializer):
    class Meta:
        model = TracingProject
        ref_name = "TracingProject"
        fields = ("id", "name", "workspace", "created_at")


RUN_SUMMARY_FIELDS = (
    "run_id",
    "trace_id",
    "project",
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
    "stream",
    "key",
    "key_prefix",
    "user",
    *TOKEN_FIELDS,
    "cost_usd",
    "price_missing",
    "usage_estimated",
    "policy_outcome",
)


class RunSummaryOutput(serializers.ModelSerializer):
    key = serializers.IntegerField(source="key_id", allow_null=True)
    user = serializers.IntegerField(source="user_id", allow_null=True)
    project = serializers.IntegerField(source="project_id")

    class Meta:
        model = Run
        ref_name = "RunSummary"
        fields = RUN_SUMMARY_FIELDS


class RunOutput(RunSummaryOutput):
    class Meta:
        model = Run
        ref_name = "Run"
        fields = (
            *RUN_SUMMARY_FIELDS,
            "method",
            "path",
            "policy_results",
            "redaction_counts",
            "user_agent",
            "request_metadata",
            "request_content",
            "response_content",
        )


def _tracing_workspace(request: Request, workspace_id: int) -> Workspace:
    ws = workspace_for(request, workspace_id, "projects:read")
    workspace_for(request, workspace_id, "runs:read")
    return ws


class ProjectListApi(ApiView):
    @extend_schema(
        operation_id="projects_list", responses=responses(ProjectOutput(many=True), 403, 404)
    )
    def get(self, request: Request, workspace_id: int) -> Response:
        ws = workspace_for(request, workspace_id, "projects:read")
        projects = (
            project_list(principal=principal_of(request)).filter(workspace=ws).order_by("name")
        )
        return Response(ProjectOutput(projects, many=True).data)


class RunListApi(ApiView):
    class FilterSerializer(serializers.Serializer):
        period = serializers.ChoiceField(
            choices=list(PERIODS), required=False, help_text="A recent window (as in the admin)."
        )
        since = serializers.DateTimeField(
            required=False, help_text="Started at or after (ISO 8601); overrides period."
        )
        until = serializers.DateTimeField(required=False, help_text="Started before (ISO 8601).")
        project = serializers.IntegerField(required=False, min_value=1, help_text="Project id.")
        key = serializers.IntegerField(required=False, min_value=1, help_text="Key id.")
        user = serializers.IntegerField(required=False, min_value=1, help_text="User id.")
        model = serializers.CharField(required=False, max_length=200)
        status = serializers.ChoiceField(choices=Run.Status.choices, required=False)
        policy_outcome = serializers.ChoiceField(choices=Run.PolicyOutcome.choices, required=False)
        trace_id = serializers.CharField(required=False, max_length=64)

    @extend_schema(
        operation_id="runs_list",
        parameters=[FilterSerializer, *PAGE_PARAMETERS],
        responses=responses(page_of(RunSummaryOutput, "RunSummary"), 400, 403, 404),
    )
    def get(self, request: Request, workspace_id: int) -> Response:
        ws = _tracing_workspace(request, workspace_id)
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        qs = _filtered_runs(request, ws, dict(filters.validated_data))
        paginator = Cursor(ordering=("-started_at", "-id"))
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(RunSummaryOutput(page, many=True).data)


def _filtered_runs(request: Request, ws: Workspace, data: dict[str, Any]) -> Any:
    period = data.pop("period", None)
    if period and "since" not in data:
        data["since"] = timezone.now() - PERIODS[period]
    project = None
    if "project" in data:
        project = TracingProject.objects.filter(workspace=ws, pk=data.pop("project")).first()
        if project is None:
            raise exceptions.NotFound("Project not found in this workspace.")
    qs = run_list(
        principal=principal_of(request),
        project=project,
        since=data.pop("since", None),
        until=data.pop("until", None),
    ).filter(workspace_id=ws.pk)
    lookups = {"key": "key_id", "user": "user_id"}
    return qs.filter(**{lookups.get(name, name): value for name, value in data.items()})


RUN_ID = OpenApiParameter(
    "run_id", str, OpenApiParameter.PATH, description="Run id (a UUID, with or without dashes)."
)


class RunDetailApi(ApiView):
    @extend_schema(
        operation_id="runs_retrieve", parameters=[RUN_ID], responses=responses(RunOutput, 403, 404)
    )
    def get(self, request: Request, workspace_id: int, run_id: str) -> Response:
        ws = _tracing_workspace(request, workspace_id)
        try:  # the 32-hex form (as in x-gateway-metadata) and the dashed form both work
            run_uuid = uuid.UUID(run_id)
        except ValueError as exc:
            raise exceptions.NotFound("Run not found.") from exc
        run = (
            run_list(principal=principal_of(request))
            .filter(workspace_id=ws.pk, run_id=run_uuid)
            .first()
        )
        if run is None:
            raise exceptions.NotFound("Run not found.")
        return Response(RunOutput(run).data)
