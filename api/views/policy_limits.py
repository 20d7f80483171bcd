"""Rate limits and model-access policies of an organization (organization:manage), written
through the policies app's services (validated, audit-logged, pushed to every proxy). Rate
limits come with the current use of each window. Subjects are named by id and must belong to
the organization (400 otherwise); another organization's policy is 404."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.errors import Conflict
from api.permissions import actor_of, organization_for
from api.schema import example, responses
from api.views.base import ApiView
from api.views.policies import MANAGE, _subjects
from orgs.models import Organization
from policies.modelaccess.models import ModelAccessPolicy, Provider
from policies.modelaccess.services import model_access_delete, model_access_save
from policies.ratelimit.models import RateLimitPolicy, RateWindow
from policies.ratelimit.selectors import current_usage, rate_limit_list_for_org
from policies.ratelimit.services import rate_limit_delete, rate_limit_save


class RateLimitWindowSerializer(serializers.Serializer):
    window = serializers.ChoiceField(choices=RateWindow.choices)
    requests = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    tokens = serializers.IntegerField(required=False, allow_null=True, min_value=1)

    class Meta:
        ref_name = "RateLimitWindow"


class RateLimitUsageOutput(serializers.Serializer):
    window = serializers.CharField()
    metric = serializers.CharField(help_text="requests or tokens")
    limit = serializers.IntegerField()
    used = serializers.IntegerField(
        allow_null=True, help_text="In the window ending now; null when unreadable."
    )

    class Meta:
        ref_name = "RateLimitUsage"


class RateLimitOutput(serializers.ModelSerializer):
    limits = serializers.SerializerMethodField()
    usage = serializers.SerializerMethodField()

    class Meta:
        model = RateLimitPolicy
        ref_name = "RateLimit"
        fields = (
            "id",
            "name",
            "enabled",
            "scope",
            "kind",
            "workspace",
            "api_key",
            "user",
            "customer",
            "limits",
            "usage",
            "created_at",
            "updated_at",
        )

    @extend_schema_field(RateLimitWindowSerializer(many=True))
    def get_limits(self, policy: RateLimitPolicy) -> list[dict[str, Any]]:
        return [
            {"window": x.window, "requests": x.max_requests, "tokens": x.max_tokens}
            for x in policy.limits.all()
        ]

    @extend_schema_field(RateLimitUsageOutput(many=True))
    def get_usage(self, policy: RateLimitPolicy) -> list[dict[str, Any]]:
        """A total policy's current use (a default per member counts each member apart)."""
        if policy.kind == RateLimitPolicy.Kind.DEFAULT_PER_MEMBER:
            return []
        return RateLimitUsageOutput(current_usage(policy), many=True).data


def _rate_limit(organization: Organization, policy_id: int) -> RateLimitPolicy:
    policy = rate_limit_list_for_org(organization_id=organization.pk).filter(pk=policy_id).first()
    if policy is None:
        raise exceptions.NotFound("Rate limit not found.")
    return policy


def _limits(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {r["window"]: (r.get("requests"), r.get("tokens")) for r in rows}


class RateLimitInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    scope = serializers.ChoiceField(choices=RateLimitPolicy.Scope.choices)
    kind = serializers.ChoiceField(
        choices=RateLimitPolicy.Kind.choices, default=RateLimitPolicy.Kind.TOTAL
    )
    workspace = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    api_key = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    user = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    customer = serializers.CharField(required=False, allow_blank=True, max_length=128)
    limits = RateLimitWindowSerializer(many=True, allow_empty=False)
    enabled = serializers.BooleanField(default=True)

    class Meta:
        ref_name = "RateLimitInput"


class RateLimitListApi(ApiView):
    @extend_schema(
        operation_id="rate_limits_list", responses=responses(RateLimitOutput(many=True), 403, 404)
    )
    def get(self, request: Request, organization_id: int) -> Response:
        org = organization_for(request, organization_id, MANAGE)
        return Response(
            RateLimitOutput(rate_limit_list_for_org(organization_id=org.pk), many=True).data
        )

    @extend_schema(
        operation_id="rate_limits_create",
        examples=example(
            "600 requests a minute per key",
            {
                "name": "each key",
                "scope": "api_key",
                "kind": "default_per_member",
                "limits": [{"window": "minute", "requests": 600}],
            },
        ),
        request=RateLimitInput,
        responses=responses(RateLimitOutput, 400, 403, 404, 409, status=201),
    )
    def post(self, request: Request, organization_id: int) -> Response:
        org = organization_for(request, organization_id, MANAGE)
        serializer = RateLimitInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if RateLimitPolicy.objects.filter(organization=org, name=data["name"]).exists():
            raise Conflict(f"A rate limit named {data['name']!r} already exists.")
        policy = rate_limit_save(
            policy=None,
            organization=org,
            name=data["name"],
            scope=data["scope"],
            kind=data["kind"],
            customer=data.get("customer", ""),
            limits=_limits(data["limits"]),
            enabled=data["enabled"],
            actor=actor_of(request),
            **_subjects(org, data),
        )
        return Response(RateLimitOutput(_rate_limit(org, policy.pk)).data, status=201)


class RateLimitDetailApi(ApiView):
    class UpdateSerializer(serializers.Serializer):
        enabled = serializers.BooleanField(required=False)
        limits = RateLimitWindowSerializer(
            many=True,
            required=False,
            allow_empty=False,
            help_text="The whole set of windows (a window not listed is removed).",
        )

        class Meta:
            ref_name = "RateLimitUpdate"

    @extend_schema(
        operation_id="rate_limits_retrieve", responses=responses(RateLimitOutput, 403, 404)
    )
    def get(self, request: Request, organization_id: int, policy_id: int) -> Response:
        org = organization_for(request, organization_id, MANAGE)
        return Response(RateLimitOutput(_rate_limit(org, policy_id)).data)

    @extend_schema(
        operation_id="rate_limits_update",
        request=UpdateSerializer,
        responses=responses(RateLimitOutput, 400, 403, 404),
    )
    def patch(self, request: Request, organization_id: int, policy_id: int) -> Response:
        org = organization_for(request, organization_id, MANAGE)
        policy = _rate_limit(org, policy_id)
        serializer = self.UpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        limits = (
            _limits(data["limits"])
            if "limits" in data
            else {x.window: (x.max_requests, x.max_tokens) for x in policy.limits.all()}
        )
        rate_limit_save(
            policy=policy,
            organization=org,
            name=policy.name,
            scope=policy.scope,
            kind=policy.kind,
            workspace=policy.workspace,
            api_key=policy.api_key,
            user=policy.user,
            customer=policy.customer,
            limits=limits,
            enabled=data.get("enabled", policy.enabled),
            actor=actor_of(request),
        )
        return Response(RateLimitOutput(_rate_limit(org, policy.pk)).data)

    @extend_schema(
        operation_id="rate_limits_delete", responses=responses(None, 403, 404, status=204)
    )
    def delete(self, request: Request, organization_id: int, policy_id: int) -> Response:
        org = organization_for(request, organization_id, MANAGE)
        rate_limit_delete(policy=_rate_limit(org, policy_id), actor=actor_of(request))
        return Response(status=204)


class ModelRuleSerializer(serializers.Serializer):
    provider = serializers.ChoiceField(choices=Provider.choices)
    models = serializers.CharField(help_text="* or comma-separated patterns (gpt-4.1*)")

    class Meta:
        ref_name = "ModelAccessRule"


class ModelAccessOutput(serializers.ModelSerializer):
    rules = serializers.SerializerMethodField()

    class Meta:
        model = ModelAccessPolicy
        ref_name = "ModelAccessPolicy"
        fields = (
            "id",
            "name",
            "enabled",
            "scope",
            "workspace",
            "api_key",
            "user",
            "rules",
            "created_at",
            "updated_at",
        )

    @extend_schema_field(ModelRuleSerializer(many=True))
    def get_rules(self, policy: ModelAccessPolicy) -> list[dict[str, Any]]:
        return [{"provider": r.provider, "models": r.models} for r in policy.rules.all()]


class ModelAccessInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    scope = serializers.ChoiceField(choices=ModelAccessPolicy.Scope.choices)
    workspace = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    api_key = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    user = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    rules = ModelRuleSerializer(many=True, allow_empty=False)
    enabled = serializers.BooleanField(default=True)

    class Meta:
        ref_name = "ModelAccessInput"


def _model_access(organization: Organization, policy_id: int) -> ModelAccessPolicy:
    policy = (
        ModelAccessPolicy.objects.filter(organization=organization, pk=policy_id)
        .prefetch_related("rules")
        .first()
    )
    if policy is None:
        raise exceptions.NotFound("Model access policy not found.")
    return policy


class ModelAccessListApi(ApiView):
    @extend_schema(
        operation_id="model_access_list",
        responses=responses(ModelAccessOutput(many=True), 403, 404),
    )
    def get(self, request: Request, organization_id: int) -> Response:
        org = organization_for(request, organization_id, MANAGE)
        policies = ModelAccessPolicy.objects.filter(organization=org).prefetch_related("rules")
        return Response(ModelAccessOutput(policies, many=True).data)

    @extend_schema(
        operation_id="model_access_create",
        request=ModelAccessInput,
        responses=responses(ModelAccessOutput, 400, 403, 404, 409, status=201),
    )
    def post(self, request: Request, organization_id: int) -> Response:
        org = organization_for(request, organization_id, MANAGE)
        serializer = ModelAccessInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if ModelAccessPolicy.objects.filter(organization=org, name=data["name"]).exists():
            raise Conflict(f"A model access policy named {data['name']!r} already exists.")
        policy = model_access_save(
            policy=None,
            organization=org,
            name=data["name"],
            scope=data["scope"],
            models={r["provider"]: r["models"] for r in data["rules"]},
            enabled=data["enabled"],
            actor=actor_of(request),
            **_subjects(org, data),
        )
        return Response(ModelAccessOutput(_model_access(org, policy.pk)).data, status=201)


class ModelAccessDetailApi(ApiView):
    class UpdateSerializer(serializers.Serializer):
        enabled = serializers.BooleanField(required=False)
        rules = ModelRuleSerializer(
            many=True,
            required=False,
            allow_empty=False,
            help_text="The whole set of providers (a provider not listed is no longer allowed).",
        )

        class Meta:
            ref_name = "ModelAccessUpdate"

    @extend_schema(
        operation_id="model_access_retrieve", responses=responses(ModelAccessOutput, 403, 404)
    )
    def get(self, request: Request, organization_id: int, policy_id: int) -> Response:
        org = organization_for(request, organization_id, MANAGE)
        return Response(ModelAccessOutput(_model_access(org, policy_id)).data)

    @extend_schema(
        operation_id="model_access_update",
        request=UpdateSerializer,
        responses=responses(ModelAccessOutput, 400, 403, 404),
    )
    def patch(self, request: Request, organization_id: int, policy_id: int) -> Response:
        org = organization_for(request, organization_id, MANAGE)
        policy = _model_access(org, policy_id)
        serializer = self.UpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        rules = data.get("rules") or [
            {"provider": r.provider, "models": r.models} for r in policy.rules.all()
        ]
        model_access_save(
            policy=policy,
            organization=org,
            name=policy.name,
            scope=policy.scope,
            workspace=policy.workspace,
            api_key=policy.api_key,
            user=policy.user,
            models={r["provider"]: r["models"] for r in rules},
            enabled=data.get("enabled", policy.enabled),
            actor=actor_of(request),
        )
        return Response(ModelAccessOutput(_model_access(org, policy.pk)).data)

    @extend_schema(
        operation_id="model_access_delete", responses=responses(None, 403, 404, status=204)
    )
    def delete(self, request: Request, organization_id: int, policy_id: int) -> Response:
        org = organization_for(request, organization_id, MANAGE)
        model_access_delete(policy=_model_access(org, policy_id), actor=actor_of(request))
        return Response(status=204)
