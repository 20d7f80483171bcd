"""Custom OpenAI-compatible providers of a workspace (workspaces:manage): PUT creates or updates
one (base URL SSRF-guarded by secrets_vault.services.base_url_check, an optional write-only
secret), GET lists or shows them, DELETE removes one. No answer ever carries the secret."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.permissions import actor_of, workspace_for
from api.schema import example, responses
from api.views.base import ApiView
from secrets_vault.models import CustomProvider
from secrets_vault.services import provider_delete, provider_set


class ProviderOutput(serializers.ModelSerializer):
    has_secret = serializers.BooleanField(read_only=True)
    models = serializers.ListField(source="model_names", child=serializers.CharField())
    header_names = serializers.SerializerMethodField()
    path = serializers.SerializerMethodField()

    class Meta:
        model = CustomProvider
        ref_name = "CustomProvider"
        fields = (
            "name",
            "api",
            "base_url",
            "has_secret",
            "last4",
            "header_names",
            "models",
            "path",
            "set_at",
        )

    def get_header_names(self, obj: CustomProvider) -> list[str]:
        """The names of the extra headers (their values may be credentials: never returned)."""
        return sorted(obj.extra_headers)

    def get_path(self, obj: CustomProvider) -> str:
        """Where clients call it: the base URL of an OpenAI SDK, under the gateway."""
        return f"/providers/{obj.name}/v1"


def _provider_or_404(workspace: object, name: str) -> CustomProvider:
    provider = CustomProvider.objects.filter(workspace=workspace, name=name).first()
    if provider is None:
        raise exceptions.NotFound("This workspace has no custom provider of that name.")
    return provider


class ProviderListApi(ApiView):
    @extend_schema(
        operation_id="custom_providers_list",
        responses=responses(ProviderOutput(many=True), 403, 404),
    )
    def get(self, request: Request, workspace_id: int) -> Response:
        ws = workspace_for(request, workspace_id, "workspaces:manage")
        rows = CustomProvider.objects.filter(workspace=ws).order_by("name")
        return Response(ProviderOutput(rows, many=True).data)


class ProviderDetailApi(ApiView):
    class InputSerializer(serializers.Serializer):
        api = serializers.ChoiceField(
            choices=CustomProvider.Api.values, required=False, help_text="The API it speaks."
        )
        base_url = serializers.CharField(
            required=False,
            max_length=500,
            help_text="The URL an OpenAI SDK would use, with its /v1; a superuser's, or a host "
            "in GATEWAY_UPSTREAM_ALLOWED_HOSTS. Required for a new provider.",
        )
        secret = serializers.CharField(
            write_only=True,
            required=False,
            max_length=4096,
            help_text="Its API key (sent as Authorization: Bearer). Omit to keep the current one.",
        )
        clear_secret = serializers.BooleanField(required=False, default=False)
        extra_headers = serializers.DictField(
            child=serializers.CharField(allow_blank=True, max_length=2000),
            required=False,
            help_text="Headers sent upstream on every call (replaces the stored set).",
        )
        models = serializers.ListField(
            child=serializers.CharField(max_length=200),
            required=False,
            help_text="The only models callers may name; [] for any.",
        )

        class Meta:
            ref_name = "CustomProviderSet"

    @extend_schema(
        operation_id="custom_providers_get", responses=responses(ProviderOutput, 403, 404)
    )
    def get(self, request: Request, workspace_id: int, name: str) -> Response:
        ws = workspace_for(request, workspace_id, "workspaces:manage")
        return Response(ProviderOutput(_provider_or_404(ws, name)).data)

    @extend_schema(
        operation_id="custom_providers_set",
        examples=example(
            "A vLLM server",
            {"api": "openai", "base_url": "https://vllm.internal/v1", "models": ["llama-3.1-8b"]},
        ),
        request=InputSerializer,
        responses=responses(ProviderOutput, 400, 403, 404),
    )
    def put(self, request: Request, workspace_id: int, name: str) -> Response:
        ws = workspace_for(request, workspace_id, "workspaces:manage")
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        existing = CustomProvider.objects.filter(workspace=ws, name=name).first()
        provider = provider_set(
            workspace=ws,
            name=name,
            api=data.get("api") or (existing.api if existing else CustomProvider.Api.OPENAI),
            base_url=data.get("base_url"),
            secret=data.get("secret"),
            clear_secret=data.get("clear_secret", False),
            extra_headers=data.get("extra_headers"),
            models=data.get("models"),
            actor=actor_of(request),
        )
        return Response(ProviderOutput(provider).data)

    @extend_schema(
        operation_id="custom_providers_delete", responses=responses(None, 403, 404, status=204)
    )
    def delete(self, request: Request, workspace_id: int, name: str) -> Response:
        ws = workspace_for(request, workspace_id, "workspaces:manage")
        provider_delete(provider=_provider_or_404(ws, name), actor=actor_of(request))
        return Response(status=204)
