"""Workspaces: list what the caller may read, create in an organization (organization:manage),
read (workspaces:read) and update the name and trace-content switch (workspaces:manage)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.errors import Conflict
from api.permissions import actor_of, organization_for, principal_of, workspace_for
from api.schema import responses
from api.selectors import workspace_list
from api.views.base import ApiView
from orgs.models import Workspace, slug_validator
from orgs.services import workspace_upsert


class WorkspaceOutput(serializers.ModelSerializer):
    organization_slug = serializers.CharField(source="organization.slug")

    class Meta:
        model = Workspace
        ref_name = "Workspace"
        fields = (
            "id",
            "organization",
            "organization_slug",
            "slug",
            "name",
            "trace_content",
            "created_at",
        )


class WorkspaceListApi(ApiView):
    class FilterSerializer(serializers.Serializer):
        organization = serializers.IntegerField(required=False, min_value=1)

    class InputSerializer(serializers.Serializer):
        organization = serializers.IntegerField(min_value=1)
        slug = serializers.CharField(max_length=63, validators=[slug_validator])
        name = serializers.CharField(max_length=200, required=False)
        trace_content = serializers.BooleanField(required=False)

        class Meta:
            ref_name = "WorkspaceCreate"

    @extend_schema(
        operation_id="workspaces_list",
        parameters=[OpenApiParameter("organization", int, description="Only this organization's.")],
        responses=responses(WorkspaceOutput(many=True), 400),
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        qs = workspace_list(
            principal=principal_of(request),
            organization_id=filters.validated_data.get("organization"),
        )
        return Response(WorkspaceOutput(qs, many=True).data)

    @extend_schema(
        operation_id="workspaces_create",
        request=InputSerializer,
        responses=responses(WorkspaceOutput, 400, 403, 404, 409, status=201),
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        org = organization_for(request, data["organization"], "organization:manage")
        if Workspace.objects.filter(organization=org, slug=data["slug"]).exists():
            raise Conflict(f"Workspace {org.slug}/{data['slug']} already exists.")
        ws = workspace_upsert(
            organization=org,
            slug=data["slug"],
            name=data.get("name"),
            trace_content=data.get("trace_content"),
            actor=actor_of(request),
        )
        return Response(WorkspaceOutput(ws).data, status=201)


class WorkspaceDetailApi(ApiView):
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200, required=False)
        trace_content = serializers.BooleanField(required=False)

        class Meta:
            ref_name = "WorkspaceUpdate"

    @extend_schema(
        operation_id="workspaces_retrieve", responses=responses(WorkspaceOutput, 403, 404)
    )
    def get(self, request: Request, workspace_id: int) -> Response:
        return Response(
            WorkspaceOutput(workspace_for(request, workspace_id, "workspaces:read")).data
        )

    @extend_schema(
        operation_id="workspaces_update",
        request=InputSerializer,
        responses=responses(WorkspaceOutput, 400, 403, 404),
    )
    def patch(self, request: Request, workspace_id: int) -> Response:
        ws = workspace_for(request, workspace_id, "workspaces:manage")
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ws = workspace_upsert(
            organization=ws.organization,
            slug=ws.slug,
            actor=actor_of(request),
            **serializer.validated_data,
        )
        return Response(WorkspaceOutput(ws).data)
