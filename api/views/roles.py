"""Roles of an organization: the six built-ins (read-only, immutable) and custom workspace roles
(create, update, delete with organization:manage, on the enterprise plan only)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.errors import Conflict
from api.permissions import actor_of, organization_for
from api.schema import example, responses
from api.selectors import role_get, role_list
from api.views.base import ApiView
from orgs.models import Organization, Role
from orgs.permissions_catalogue import WORKSPACE_PERMISSIONS
from orgs.services import role_delete, role_upsert


class RoleOutput(serializers.ModelSerializer):
    permissions = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = Role
        ref_name = "Role"
        fields = ("id", "name", "scope", "builtin", "permissions", "description")


def _role_or_404(organization: Organization, role_id: int) -> Role:
    role = role_get(organization=organization, role_id=role_id)
    if role is None:
        raise exceptions.NotFound("Role not found.")
    return role


def _refuse_builtin(role: Role, verb: str) -> None:
    if role.builtin:
        raise exceptions.ValidationError(
            {
                "detail": f"{role.name} is a built-in role and cannot be {verb}; create a custom role."
            }
        )


class RoleListApi(ApiView):
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100)
        permissions = serializers.ListField(
            child=serializers.ChoiceField(choices=WORKSPACE_PERMISSIONS), min_length=1
        )
        description = serializers.CharField(max_length=300, required=False, allow_blank=True)

        class Meta:
            ref_name = "RoleCreate"

    @extend_schema(operation_id="roles_list", responses=responses(RoleOutput(many=True), 404))
    def get(self, request: Request, organization_id: int) -> Response:
        org = organization_for(request, organization_id)
        return Response(RoleOutput(role_list(organization=org), many=True).data)

    @extend_schema(
        operation_id="roles_create",
        examples=example(
            "Invokers", {"name": "INVOKERS", "permissions": ["gateway:invoke", "workspaces:read"]}
        ),
        description="Create a custom workspace role (enterprise plan only).",
        request=InputSerializer,
        responses=responses(RoleOutput, 400, 403, 404, 409, status=201),
    )
    def post(self, request: Request, organization_id: int) -> Response:
        org = organization_for(request, organization_id, "organization:manage")
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if (
            org.plan == Organization.Plan.ENTERPRISE
            and Role.objects.filter(organization=org, name=data["name"]).exists()
        ):
            raise Conflict(f"A role named {data['name']} already exists.")
        role = role_upsert(organization=org, actor=actor_of(request), **data)
        return Response(RoleOutput(role).data, status=201)


class RoleDetailApi(ApiView):
    class InputSerializer(serializers.Serializer):
        permissions = serializers.ListField(
            child=serializers.ChoiceField(choices=WORKSPACE_PERMISSIONS),
            min_length=1,
            required=False,
        )
        description = serializers.CharField(max_length=300, required=False, allow_blank=True)

        class Meta:
            ref_name = "RoleUpdate"

    @extend_schema(operation_id="roles_retrieve", responses=responses(RoleOutput, 404))
    def get(self, request: Request, organization_id: int, role_id: int) -> Response:
        org = organization_for(request, organization_id)
        return Response(RoleOutput(_role_or_404(org, role_id)).data)

    @extend_schema(
        operation_id="roles_update",
        request=InputSerializer,
        responses=responses(RoleOutput, 400, 403, 404),
    )
    def patch(self, request: Request, organization_id: int, role_id: int) -> Response:
        org = organization_for(request, organization_id, "organization:manage")
        role = _role_or_404(org, role_id)
        _refuse_builtin(role, "changed")
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        role = role_upsert(
            organization=org,
            name=role.name,
            permissions=data.get("permissions", role.permissions),
            description=data.get("description", role.description),
            actor=actor_of(request),
        )
        return Response(RoleOutput(role).data)

    @extend_schema(
        operation_id="roles_delete", responses=responses(None, 400, 403, 404, status=204)
    )
    def delete(self, request: Request, organization_id: int, role_id: int) -> Response:
        org = organization_for(request, organization_id, "organization:manage")
        role = _role_or_404(org, role_id)
        _refuse_builtin(role, "deleted")
        role_delete(role=role, actor=actor_of(request))
        return Response(status=204)
