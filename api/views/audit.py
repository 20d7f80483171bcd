"""The audit log, read-only: entries of organizations the caller manages and of workspaces it
manages, newest first, cursor-paginated."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.pagination import PAGE_PARAMETERS, Cursor, page_of
from api.permissions import organization_for, principal_of, workspace_for
from api.schema import responses
from api.selectors import audit_list
from api.views.base import ApiView
from orgs.models import AuditLogEntry


class AuditEntryOutput(serializers.ModelSerializer):
    class Meta:
        model = AuditLogEntry
        ref_name = "AuditEntry"
        fields = (
            "id",
            "created_at",
            "organization",
            "workspace",
            "actor",
            "actor_label",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "before",
            "after",
        )


class AuditLogApi(ApiView):
    class FilterSerializer(serializers.Serializer):
        organization = serializers.IntegerField(required=False, min_value=1)
        workspace = serializers.IntegerField(required=False, min_value=1)
        action = serializers.CharField(required=False, max_length=100)

    @extend_schema(
        operation_id="audit_log_list",
        parameters=[FilterSerializer, *PAGE_PARAMETERS],
        responses=responses(page_of(AuditEntryOutput, "AuditEntry"), 400, 403, 404),
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        # A named workspace or organization must be visible (404) and, for a workspace, managed (403).
        if "workspace" in data:
            workspace_for(request, data["workspace"], "workspaces:manage")
        if "organization" in data:
            organization_for(request, data["organization"])
        qs = audit_list(principal=principal_of(request), **filters.validated_data)
        paginator = Cursor(ordering="-id")
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(AuditEntryOutput(page, many=True).data)
