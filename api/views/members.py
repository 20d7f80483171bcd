"""Workspace members and their roles: list (workspaces:read), add or set a role, remove
(workspaces:manage-members). Roles are named (built-in or the organization's custom ones)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.permissions import actor_of, check_grantable, organization_for, workspace_for
from api.schema import example, responses
from api.selectors import member_get, member_list, org_member_list
from api.views.base import ApiView
from orgs.models import Organization, OrganizationMember, Role, Workspace, WorkspaceMember
from orgs.services import (
    member_remove,
    member_set,
    org_member_remove,
    org_member_set,
    role_get,
    user_get_or_create,
)


class MemberOutput(serializers.ModelSerializer):
    user_id = serializers.IntegerField(source="user.pk")
    email = serializers.CharField(source="user.email")
    username = serializers.CharField(source="user.username")
    role = serializers.CharField(source="role.name")
    permissions = serializers.ListField(child=serializers.CharField(), source="role.permissions")

    class Meta:
        model = WorkspaceMember
        ref_name = "Member"
        fields = ("user_id", "email", "username", "role", "permissions", "created_at")


def _set_role(
    request: Request, workspace: Workspace, user: object, role_name: str
) -> WorkspaceMember:
    role = role_get(organization=workspace.organization, name=role_name, scope=Role.Scope.WORKSPACE)
    check_grantable(request, workspace, role.permission_set)
    return member_set(workspace=workspace, user=user, role=role, actor=actor_of(request))


class MemberListApi(ApiView):
    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField()
        role = serializers.CharField(max_length=100, help_text="A workspace role name.")

        class Meta:
            ref_name = "MemberAdd"

    @extend_schema(
        operation_id="members_list", responses=responses(MemberOutput(many=True), 403, 404)
    )
    def get(self, request: Request, workspace_id: int) -> Response:
        ws = workspace_for(request, workspace_id, "workspaces:read")
        return Response(MemberOutput(member_list(workspace=ws), many=True).data)

    @extend_schema(
        operation_id="members_set",
        examples=example(
            "Add a viewer", {"email": "new.dev@example.com", "role": "WORKSPACE_VIEWER"}
        ),
        description="Add a user (by email; created if unknown) or change their role.",
        request=InputSerializer,
        responses=responses(MemberOutput, 400, 403, 404),
    )
    def post(self, request: Request, workspace_id: int) -> Response:
        ws = workspace_for(request, workspace_id, "workspaces:manage-members")
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = user_get_or_create(email=serializer.validated_data["email"])
        member = _set_role(request, ws, user, serializer.validated_data["role"])
        return Response(MemberOutput(member).data)


class MemberDetailApi(ApiView):
    class InputSerializer(serializers.Serializer):
        role = serializers.CharField(max_length=100, help_text="A workspace role name.")

        class Meta:
            ref_name = "MemberRole"

    def _member(
        self, request: Request, workspace_id: int, user_id: int, permission: str
    ) -> WorkspaceMember:
        ws = workspace_for(request, workspace_id, permission)
        member = member_get(workspace=ws, user_id=user_id)
        if member is None:
            raise exceptions.NotFound("Member not found.")
        return member

    @extend_schema(operation_id="members_retrieve", responses=responses(MemberOutput, 403, 404))
    def get(self, request: Request, workspace_id: int, user_id: int) -> Response:
        return Response(
            MemberOutput(self._member(request, workspace_id, user_id, "workspaces:read")).data
        )

    @extend_schema(
        operation_id="members_update",
        request=InputSerializer,
        responses=responses(MemberOutput, 400, 403, 404),
    )
    def put(self, request: Request, workspace_id: int, user_id: int) -> Response:
        member = self._member(request, workspace_id, user_id, "workspaces:manage-members")
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        member = _set_role(
            request, member.workspace, member.user, serializer.validated_data["role"]
        )
        return Response(MemberOutput(member).data)

    @extend_schema(operation_id="members_remove", responses=responses(None, 403, 404, status=204))
    def delete(self, request: Request, workspace_id: int, user_id: int) -> Response:
        member = self._member(request, workspace_id, user_id, "workspaces:manage-members")
        member_remove(workspace=member.workspace, user=member.user, actor=actor_of(request))
        return Response(status=204)


class OrgMemberOutput(serializers.ModelSerializer):
    user_id = serializers.IntegerField(source="user.pk")
    email = serializers.CharField(source="user.email")
    username = serializers.CharField(source="user.username")
    role = serializers.CharField(source="role.name")

    class Meta:
        model = OrganizationMember
        ref_name = "OrganizationMember"
        fields = ("user_id", "email", "username", "role", "created_at")


ORG_ROLE_HELP = "ORGANIZATION_ADMIN, ORGANIZATION_USER or ORGANIZATION_VIEWER."


def _org_role(organization: Organization, name: str) -> Role:
    return role_get(organization=organization, name=name, scope=Role.Scope.ORGANIZATION)


def _org_member(organization: Organization, user_id: int) -> OrganizationMember:
    member = org_member_list(organization=organization).filter(user_id=user_id).first()
    if member is None:
        raise exceptions.NotFound("Member not found.")
    return member


class OrgMemberListApi(ApiView):
    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField()
        role = serializers.CharField(max_length=100, help_text=ORG_ROLE_HELP)

        class Meta:
            ref_name = "OrganizationMemberAdd"

    @extend_schema(
        operation_id="organization_members_list",
        responses=responses(OrgMemberOutput(many=True), 403, 404),
    )
    def get(self, request: Request, organization_id: int) -> Response:
        org = organization_for(request, organization_id, "organization:read")
        return Response(OrgMemberOutput(org_member_list(organization=org), many=True).data)

    @extend_schema(
        operation_id="organization_members_set",
        description="Add a user to the organization (by email; created if unknown) or change their organization role.",
        examples=example(
            "Add a user", {"email": "new.dev@example.com", "role": "ORGANIZATION_USER"}
        ),
        request=InputSerializer,
        responses=responses(OrgMemberOutput, 400, 403, 404),
    )
    def post(self, request: Request, organization_id: int) -> Response:
        org = organization_for(request, organization_id, "organization:manage")
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        role = _org_role(org, serializer.validated_data["role"])
        user = user_get_or_create(email=serializer.validated_data["email"])
        member = org_member_set(organization=org, user=user, role=role, actor=actor_of(request))
        return Response(OrgMemberOutput(member).data)


class OrgMemberDetailApi(ApiView):
    class InputSerializer(serializers.Serializer):
        role = serializers.CharField(max_length=100, help_text=ORG_ROLE_HELP)

        class Meta:
            ref_name = "OrganizationMemberRole"

    @extend_schema(
        operation_id="organization_members_retrieve", responses=responses(OrgMemberOutput, 403, 404)
    )
    def get(self, request: Request, organization_id: int, user_id: int) -> Response:
        org = organization_for(request, organization_id, "organization:read")
        return Response(OrgMemberOutput(_org_member(org, user_id)).data)

    @extend_schema(
        operation_id="organization_members_update",
        request=InputSerializer,
        responses=responses(OrgMemberOutput, 400, 403, 404),
    )
    def put(self, request: Request, organization_id: int, user_id: int) -> Response:
        org = organization_for(request, organization_id, "organization:manage")
        member = _org_member(org, user_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        role = _org_role(org, serializer.validated_data["role"])
        member = org_member_set(
            organization=org, user=member.user, role=role, actor=actor_of(request)
        )
        return Response(OrgMemberOutput(member).data)

    @extend_schema(
        operation_id="organization_members_remove",
        description="Remove the user from the organization and from all its workspaces.",
        responses=responses(None, 403, 404, status=204),
    )
    def delete(self, request: Request, organization_id: int, user_id: int) -> Response:
        org = organization_for(request, organization_id, "organization:manage")
        member = _org_member(org, user_id)
        org_member_remove(organization=org, user=member.user, actor=actor_of(request))
        return Response(status=204)
