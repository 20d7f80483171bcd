"""Organizations: list and read what the caller may see; PATCH the name (organization:manage)
or the plan and the LLM Gateway flag (superuser only, as in the admin)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.permissions import (
    actor_of,
    is_superuser,
    organization_for,
    principal_of,
    visible_organizations,
)
from api.schema import responses
from api.views.base import ApiView
from orgs.models import Organization
from orgs.services import organization_upsert


class OrganizationOutput(serializers.ModelSerializer):
    class Meta:
        model = Organization
        ref_name = "Organization"
        fields = ("id", "slug", "name", "plan", "llm_gateway_enabled", "created_at")


class OrganizationListApi(ApiView):
    @extend_schema(
        operation_id="organizations_list", responses=responses(OrganizationOutput(many=True))
    )
    def get(self, request: Request) -> Response:
        orgs = visible_organizations(principal_of(request)).order_by("slug")
        return Response(OrganizationOutput(orgs, many=True).data)


class OrganizationDetailApi(ApiView):
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200, required=False)
        plan = serializers.ChoiceField(choices=Organization.Plan.choices, required=False)
        llm_gateway_enabled = serializers.BooleanField(required=False)

        class Meta:
            ref_name = "OrganizationUpdate"

    @extend_schema(
        operation_id="organizations_retrieve", responses=responses(OrganizationOutput, 404)
    )
    def get(self, request: Request, organization_id: int) -> Response:
        return Response(OrganizationOutput(organization_for(request, organization_id)).data)

    @extend_schema(
        operation_id="organizations_update",
        request=InputSerializer,
        responses=responses(OrganizationOutput, 400, 403, 404),
    )
    def patch(self, request: Request, organization_id: int) -> Response:
        org = organization_for(request, organization_id, "organization:manage")
        data: dict[str, Any] = self._validated(request)
        changes_operator_fields = any(
            name in data and data[name] != getattr(org, name)
            for name in ("plan", "llm_gateway_enabled")
        )
        if changes_operator_fields and not is_superuser(request):
            raise exceptions.PermissionDenied(
                "Only a superuser (the platform operator) may change the plan or the LLM Gateway flag."
            )
        org = organization_upsert(slug=org.slug, actor=actor_of(request), **data)
        return Response(OrganizationOutput(org).data)

    def _validated(self, request: Request) -> dict[str, Any]:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)
