"""Provider secrets of a workspace, write-only (workspaces:manage): PUT a value (and an optional
base URL, SSRF-guarded by secrets_vault.services.base_url_check), DELETE, and list the names
with the last 4 characters and when each was set. No answer ever carries a value."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.permissions import actor_of, workspace_for
from api.schema import example, responses
from api.selectors import secret_list
from api.views.base import ApiView
from secrets_vault.models import ProviderSecret
from secrets_vault.services import secret_delete, secret_set

NAME_PARAMETER = OpenApiParameter(
    "name", str, OpenApiParameter.PATH, enum=ProviderSecret.Name.values, description="Secret name."
)


class SecretOutput(serializers.ModelSerializer):
    class Meta:
        model = ProviderSecret
        ref_name = "ProviderSecret"
        fields = ("name", "last4", "base_url", "set_at")


def _name_or_404(name: str) -> str:
    if name not in ProviderSecret.Name.values:
        raise exceptions.NotFound(
            f"Unknown provider secret; use one of {', '.join(ProviderSecret.Name.values)}."
        )
    return name


class SecretListApi(ApiView):
    @extend_schema(
        operation_id="secrets_list", responses=responses(SecretOutput(many=True), 403, 404)
    )
    def get(self, request: Request, workspace_id: int) -> Response:
        ws = workspace_for(request, workspace_id, "workspaces:manage")
        return Response(SecretOutput(secret_list(workspace=ws), many=True).data)


class SecretDetailApi(ApiView):
    class InputSerializer(serializers.Serializer):
        value = serializers.CharField(
            write_only=True,
            required=False,
            max_length=4096,
            trim_whitespace=True,
            help_text="The provider key. Omit to change only the base URL of an existing secret.",
        )
        base_url = serializers.CharField(
            required=False,
            allow_blank=True,
            max_length=500,
            help_text="Upstream origin override; a superuser's, or a host in GATEWAY_UPSTREAM_ALLOWED_HOSTS.",
        )

        class Meta:
            ref_name = "ProviderSecretSet"

    @extend_schema(
        operation_id="secrets_set",
        examples=example("Set the key", {"value": "sk-example-replace-me"}),
        parameters=[NAME_PARAMETER],
        request=InputSerializer,
        responses=responses(SecretOutput, 400, 403, 404),
    )
    def put(self, request: Request, workspace_id: int, name: str) -> Response:
        ws = workspace_for(request, workspace_id, "workspaces:manage")
        name = _name_or_404(name)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        secret = secret_set(
            workspace=ws,
            name=name,
            value=data.get("value"),
            base_url=data.get("base_url"),
            actor=actor_of(request),
        )
        return Response(SecretOutput(secret).data)

    @extend_schema(
        operation_id="secrets_delete",
        parameters=[NAME_PARAMETER],
        responses=responses(None, 403, 404, status=204),
    )
    def delete(self, request: Request, workspace_id: int, name: str) -> Response:
        ws = workspace_for(request, workspace_id, "workspaces:manage")
        secret = secret_list(workspace=ws).filter(name=_name_or_404(name)).first()
        if secret is None:
            raise exceptions.NotFound("This workspace has no such secret.")
        secret_delete(secret=secret, actor=actor_of(request))
        return Response(status=204)
