"""Service keys (per workspace, workspaces:manage) and personal access tokens (the caller's own,
organization:pats:create). Creating returns the full key once, in `key`; every other answer shows
only the public prefix. Revoking is DELETE; the row stays, revoked, for the audit trail."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.permissions import (
    actor_of,
    check_grantable,
    organization_for,
    principal_of,
    workspace_for,
)
from api.schema import example, responses
from api.selectors import org_service_key_list, personal_token_list, service_key_list
from api.views.base import ApiView
from orgs.models import ApiKey, Role
from orgs.services import api_key_create, api_key_revoke, role_get, user_get_or_create


class KeyOutput(serializers.ModelSerializer):
    prefix = serializers.CharField(source="display_prefix")
    workspace = serializers.IntegerField(source="workspace_id", allow_null=True)
    role = serializers.CharField(source="role.name", allow_null=True, default=None)
    user_email = serializers.CharField(source="user.email", allow_null=True, default=None)
    is_active = serializers.BooleanField()

    class Meta:
        model = ApiKey
        ref_name = "ApiKey"
        fields = (
            "id",
            "prefix",
            "kind",
            "name",
            "workspace",
            "role",
            "user_email",
            "created_at",
            "expires_at",
            "revoked_at",
            "last_used_at",
            "is_active",
        )


class CreatedKeyOutput(KeyOutput):
    key = serializers.CharField(help_text="The full key. Shown once: store it now.")

    class Meta(KeyOutput.Meta):
        ref_name = "CreatedApiKey"
        fields = (*KeyOutput.Meta.fields, "key")


# The one response that carries a full key must not be kept by any cache or proxy.
NO_STORE = {"Cache-Control": "no-store"}


def _created(created: Any) -> dict[str, Any]:
    data = dict(KeyOutput(created.api_key).data)
    data["key"] = created.plaintext
    return data


class ServiceKeyListApi(ApiView):
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        role = serializers.CharField(max_length=100, help_text="A workspace role name.")
        expires_at = serializers.DateTimeField(required=False, allow_null=True)
        user_email = serializers.EmailField(
            required=False, help_text="Assignee: user spend caps count this key."
        )

        class Meta:
            ref_name = "ServiceKeyCreate"

    @extend_schema(
        operation_id="service_keys_list", responses=responses(KeyOutput(many=True), 403, 404)
    )
    def get(self, request: Request, workspace_id: int) -> Response:
        ws = workspace_for(request, workspace_id, "workspaces:manage")
        return Response(KeyOutput(service_key_list(workspace=ws), many=True).data)

    @extend_schema(
        operation_id="service_keys_create",
        examples=example("A CI key", {"name": "ci", "role": "WORKSPACE_USER"}),
        request=InputSerializer,
        responses=responses(CreatedKeyOutput, 400, 403, 404, status=201),
    )
    def post(self, request: Request, workspace_id: int) -> Response:
        ws = workspace_for(request, workspace_id, "workspaces:manage")
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        role = role_get(organization=ws.organization, name=data["role"], scope=Role.Scope.WORKSPACE)
        check_grantable(request, ws, role.permission_set)
        user = user_get_or_create(email=data["user_email"]) if data.get("user_email") else None
        created = api_key_create(
            organization=ws.organization,
            workspace=ws,
            kind=ApiKey.Kind.SERVICE,
            role=role,
            user=user,
            name=data["name"],
            expires_at=data.get("expires_at"),
            actor=actor_of(request),
        )
        return Response(_created(created), status=201, headers=NO_STORE)


class ServiceKeyDetailApi(ApiView):
    def _key(self, request: Request, workspace_id: int, key_id: int) -> ApiKey:
        ws = workspace_for(request, workspace_id, "workspaces:manage")
        key = service_key_list(workspace=ws).filter(pk=key_id).first()
        if key is None:
            raise exceptions.NotFound("Key not found.")
        return key

    @extend_schema(operation_id="service_keys_retrieve", responses=responses(KeyOutput, 403, 404))
    def get(self, request: Request, workspace_id: int, key_id: int) -> Response:
        return Response(KeyOutput(self._key(request, workspace_id, key_id)).data)

    @extend_schema(
        operation_id="service_keys_revoke",
        description="Revoke the key now (idempotent); the gateway refuses it within its refresh interval.",
        responses=responses(KeyOutput, 403, 404),
    )
    def delete(self, request: Request, workspace_id: int, key_id: int) -> Response:
        key = api_key_revoke(
            api_key=self._key(request, workspace_id, key_id), actor=actor_of(request)
        )
        return Response(KeyOutput(key).data)


def _token_owner_id(request: Request) -> int:
    """Personal tokens belong to a user: the session user, or the user of a personal token."""
    principal = principal_of(request)
    if isinstance(principal, ApiKey):
        if principal.kind != ApiKey.Kind.PERSONAL or principal.user_id is None:
            raise exceptions.PermissionDenied(
                "Personal tokens belong to a user; a service key has none."
            )
        return principal.user_id
    return principal.pk


class PersonalTokenListApi(ApiView):
    class InputSerializer(serializers.Serializer):
        workspace = serializers.IntegerField(min_value=1)
        name = serializers.CharField(max_length=200)
        expires_at = serializers.DateTimeField(required=False, allow_null=True)

        class Meta:
            ref_name = "PersonalTokenCreate"

    @extend_schema(
        operation_id="personal_tokens_list", responses=responses(KeyOutput(many=True), 403)
    )
    def get(self, request: Request) -> Response:
        tokens = personal_token_list(user_id=_token_owner_id(request))
        return Response(KeyOutput(tokens, many=True).data)

    @extend_schema(
        operation_id="personal_tokens_create",
        description="A token for yourself in one workspace; it carries your role there.",
        request=InputSerializer,
        responses=responses(CreatedKeyOutput, 400, 403, 404, status=201),
    )
    def post(self, request: Request) -> Response:
        _token_owner_id(request)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        ws = workspace_for(request, data["workspace"], "organization:pats:create")
        created = api_key_create(
            organization=ws.organization,
            workspace=ws,
            kind=ApiKey.Kind.PERSONAL,
            user=request.user,
            name=data["name"],
            expires_at=data.get("expires_at"),
            actor=actor_of(request),
        )
        return Response(_created(created), status=201, headers=NO_STORE)


class PersonalTokenDetailApi(ApiView):
    def _token(self, request: Request, token_id: int) -> ApiKey:
        token = personal_token_list(user_id=_token_owner_id(request)).filter(pk=token_id).first()
        if token is None:
            raise exceptions.NotFound("Token not found.")
        return token

    @extend_schema(
        operation_id="personal_tokens_retrieve", responses=responses(KeyOutput, 403, 404)
    )
    def get(self, request: Request, token_id: int) -> Response:
        return Response(KeyOutput(self._token(request, token_id)).data)

    @extend_schema(operation_id="personal_tokens_revoke", responses=responses(KeyOutput, 403, 404))
    def delete(self, request: Request, token_id: int) -> Response:
        token = api_key_revoke(api_key=self._token(request, token_id), actor=actor_of(request))
        return Response(KeyOutput(token).data)


class OrgServiceKeyListApi(ApiView):
    """Organization-scoped service keys: for automation of the organization itself (this API);
    the gateway refuses them for model calls (use a workspace key there)."""

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        role = serializers.CharField(
            max_length=100,
            help_text="An organization role (e.g. ORGANIZATION_ADMIN), or a workspace role held in every workspace.",
        )
        expires_at = serializers.DateTimeField(required=False, allow_null=True)

        class Meta:
            ref_name = "OrganizationServiceKeyCreate"

    @extend_schema(
        operation_id="organization_service_keys_list",
        responses=responses(KeyOutput(many=True), 403, 404),
    )
    def get(self, request: Request, organization_id: int) -> Response:
        org = organization_for(request, organization_id, "organization:manage")
        return Response(KeyOutput(org_service_key_list(organization=org), many=True).data)

    @extend_schema(
        operation_id="organization_service_keys_create",
        examples=example("An automation key", {"name": "terraform", "role": "ORGANIZATION_ADMIN"}),
        request=InputSerializer,
        responses=responses(CreatedKeyOutput, 400, 403, 404, status=201),
    )
    def post(self, request: Request, organization_id: int) -> Response:
        # organization:manage means ORGANIZATION_ADMIN (or an org key holding it), which already
        # holds every permission of the organization: no role here can exceed the caller's.
        org = organization_for(request, organization_id, "organization:manage")
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        role = Role.objects.for_organization(org).filter(name=data["role"]).first()
        if role is None:
            raise exceptions.ValidationError(
                {"role": [f"No role {data['role']} in this organization."]}
            )
        created = api_key_create(
            organization=org,
            workspace=None,
            kind=ApiKey.Kind.SERVICE,
            role=role,
            name=data["name"],
            expires_at=data.get("expires_at"),
            actor=actor_of(request),
        )
        return Response(_created(created), status=201, headers=NO_STORE)


class OrgServiceKeyDetailApi(ApiView):
    def _key(self, request: Request, organization_id: int, key_id: int) -> ApiKey:
        org = organization_for(request, organization_id, "organization:manage")
        key = org_service_key_list(organization=org).filter(pk=key_id).first()
        if key is None:
            raise exceptions.NotFound("Key not found.")
        return key

    @extend_schema(
        operation_id="organization_service_keys_retrieve", responses=responses(KeyOutput, 403, 404)
    )
    def get(self, request: Request, organization_id: int, key_id: int) -> Response:
        return Response(KeyOutput(self._key(request, organization_id, key_id)).data)

    @extend_schema(
        operation_id="organization_service_keys_revoke", responses=responses(KeyOutput, 403, 404)
    )
    def delete(self, request: Request, organization_id: int, key_id: int) -> Response:
        key = self._key(request, organization_id, key_id)
        return Response(KeyOutput(api_key_revoke(api_key=key, actor=actor_of(request))).data)
