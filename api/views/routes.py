"""Model routes of a workspace (workspaces:manage): list, PUT one by name (its chain of
PROVIDER/MODEL candidates, fallback conditions and aliases), DELETE. Writes go through
model_routes.services (validated, audit-logged)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.permissions import actor_of, workspace_for
from api.schema import example, responses
from api.views.base import ApiView
from model_routes.models import FALLBACK_ON, ModelRoute
from model_routes.services import route_delete, route_set


class RouteOutput(serializers.ModelSerializer):
    class Meta:
        model = ModelRoute
        ref_name = "ModelRoute"
        fields = ("name", "chain", "fallback_on", "aliases", "updated_at")


class RouteListApi(ApiView):
    @extend_schema(
        operation_id="routes_list", responses=responses(RouteOutput(many=True), 403, 404)
    )
    def get(self, request: Request, workspace_id: int) -> Response:
        ws = workspace_for(request, workspace_id, "workspaces:manage")
        return Response(RouteOutput(ModelRoute.objects.filter(workspace=ws), many=True).data)


class RouteDetailApi(ApiView):
    class InputSerializer(serializers.Serializer):
        chain = serializers.ListField(
            child=serializers.JSONField(),
            help_text='Candidates in order: "PROVIDER/MODEL" or {"model": ..., "params": {...}}.',
        )
        fallback_on = serializers.ListField(
            child=serializers.ChoiceField(choices=FALLBACK_ON), required=False
        )
        aliases = serializers.ListField(child=serializers.CharField(), required=False)

        class Meta:
            ref_name = "ModelRouteSet"

    @extend_schema(
        operation_id="routes_set",
        examples=example(
            "Fall back from OpenAI to Anthropic",
            {
                "chain": ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5"],
                "fallback_on": ["429", "5xx"],
                "aliases": ["claude-haiku-*"],
            },
        ),
        request=InputSerializer,
        responses=responses(RouteOutput, 400, 403, 404),
    )
    def put(self, request: Request, workspace_id: int, name: str) -> Response:
        ws = workspace_for(request, workspace_id, "workspaces:manage")
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        route = route_set(
            workspace=ws,
            name=name,
            chain=data["chain"],
            fallback_on=data.get("fallback_on"),
            aliases=data.get("aliases"),
            actor=actor_of(request),
        )
        return Response(RouteOutput(route).data)

    @extend_schema(operation_id="routes_delete", responses=responses(None, 403, 404, status=204))
    def delete(self, request: Request, workspace_id: int, name: str) -> Response:
        ws = workspace_for(request, workspace_id, "workspaces:manage")
        route = ModelRoute.objects.filter(workspace=ws, name=name).first()
        if route is None:
            raise exceptions.NotFound("This workspace has no such route.")
        route_delete(route=route, actor=actor_of(request))
        return Response(status=204)
