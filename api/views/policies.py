"""Spend-limit and redaction policies of an organization (organization:manage), written
through the policies app's services (validated, audit-logged, pushed to every proxy). Spend
limits come with the current spend of each window. Subjects (workspace, key, user) are named by
id and must belong to the organization; an id from elsewhere is refused as unknown (400)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.errors import Conflict
from api.permissions import actor_of, organization_for
from api.schema import example, responses
from api.views.base import ApiView
from orgs.models import ApiKey, Organization, Workspace
from policies.redaction.models import RedactionPolicy
from policies.redaction.rules import PII_RULE_IDS, SECRET_RULE_IDS
from policies.redaction.services import redaction_policy_delete, redaction_policy_set
from policies.spend.models import SpendAlertChannel, SpendAlertDelivery, SpendPolicy, Window
from policies.spend.selectors import current_spend, spend_policy_list_for_org
from policies.spend.services import (
    alert_channel_add,
    alert_channel_delete,
    alert_thresholds_set,
    spend_policy_delete,
    spend_policy_upsert,
)

MANAGE = "organization:manage"


def _subjects(organization: Organization, data: dict[str, Any]) -> dict[str, Any]:
    """workspace/api_key/user ids → objects of this organization (400 naming the unknown one)."""
    found: dict[str, Any] = {"workspace": None, "api_key": None, "user": None}
    lookups = {
        "workspace": Workspace.objects.filter(organization=organization),
        "api_key": ApiKey.objects.filter(organization=organization),
        "user": get_user_model().objects.filter(org_memberships__organization=organization),
    }
    for name, qs in lookups.items():
        if data.get(name) is not None:
            found[name] = qs.filter(pk=data[name]).first()
            if found[name] is None:
                raise exceptions.ValidationError(
                    {name: [f"No {name.replace('_', ' ')} {data[name]} in this organization."]}
                )
    return found


class SpendWindowSerializer(serializers.Serializer):
    window = serializers.ChoiceField(choices=Window.choices)
    limit_usd = serializers.DecimalField(max_digits=14, decimal_places=6, min_value=0)

    class Meta:
        ref_name = "SpendWindowLimit"


class SpendWindowOutput(SpendWindowSerializer):
    spent_usd = serializers.FloatField(help_text="Spent in the current window.")
    note = serializers.CharField(
        help_text="Where the figure comes from, when not the live counter."
    )

    class Meta:
        ref_name = "SpendWindow"


class UnpricedSerializer(serializers.Serializer):
    """What a capped call to a model without a price does: refused, or charged a fallback."""

    unpriced_models = serializers.ChoiceField(choices=SpendPolicy.Unpriced.choices, required=False)
    fallback_input_per_mtok = serializers.DecimalField(
        max_digits=12, decimal_places=6, min_value=0, required=False
    )
    fallback_output_per_mtok = serializers.DecimalField(
        max_digits=12, decimal_places=6, min_value=0, required=False
    )

    class Meta:
        ref_name = "SpendLimitUnpriced"


def _unpriced(data: dict[str, Any]) -> dict[str, Any]:
    names = ("unpriced_models", "fallback_input_per_mtok", "fallback_output_per_mtok")
    return {name: data[name] for name in names if name in data}


class AlertChannelOutput(serializers.ModelSerializer):
    class Meta:
        model = SpendAlertChannel
        ref_name = "SpendAlertChannel"
        fields = ("id", "kind", "target", "created_at")


class SpendLimitOutput(serializers.ModelSerializer):
    windows = serializers.SerializerMethodField()
    alert_thresholds = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="Budget alerts at these percentages of each window's limit.",
    )
    alert_channels = AlertChannelOutput(many=True, read_only=True)

    class Meta:
        model = SpendPolicy
        ref_name = "SpendLimit"
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
            "unpriced_models",
            "fallback_input_per_mtok",
            "fallback_output_per_mtok",
            "windows",
            "alert_thresholds",
            "alert_channels",
            "created_at",
            "updated_at",
        )

    @extend_schema_field(SpendWindowOutput(many=True))
    def get_windows(self, policy: SpendPolicy) -> list[dict[str, Any]]:
        limits = {w.window: w.limit_usd for w in policy.windows.all()}
        rows = current_spend(policy)
        return SpendWindowOutput(
            [
                {**row, "limit_usd": limits[row["window"]], "note": row["note"].strip(" ()")}
                for row in rows
            ],
            many=True,
        ).data


def alert_thresholds_field(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=1000),
        allow_empty=True,
        help_text="Budget alerts at these percentages of each window's limit, e.g. [50, 80, 100] "
        "(empty: none).",
        **kwargs,
    )


def _spend_policy(organization: Organization, policy_id: int) -> SpendPolicy:
    policy = spend_policy_list_for_org(organization_id=organization.pk).filter(pk=policy_id).first()
    if policy is None:
        raise exceptions.NotFound("Spend limit not found.")
    return policy


class SpendLimitListApi(ApiView):
    class InputSerializer(UnpricedSerializer):
        name = serializers.CharField(max_length=200)
        scope = serializers.ChoiceField(choices=SpendPolicy.Scope.choices)
        kind = serializers.ChoiceField(
            choices=SpendPolicy.Kind.choices, default=SpendPolicy.Kind.TOTAL
        )
        workspace = serializers.IntegerField(required=False, allow_null=True, min_value=1)
        api_key = serializers.IntegerField(required=False, allow_null=True, min_value=1)
        user = serializers.IntegerField(required=False, allow_null=True, min_value=1)
        customer = serializers.CharField(required=False, allow_blank=True, max_length=128)
        windows = SpendWindowSerializer(many=True, allow_empty=False)
        enabled = serializers.BooleanField(default=True)
        alert_thresholds = alert_thresholds_field(required=False)

        class Meta:
            ref_name = "SpendLimitCreate"

    @extend_schema(
        operation_id="spend_limits_list", responses=responses(SpendLimitOutput(many=True), 403, 404)
    )
    def get(self, request: Request, organization_id: int) -> Response:
        org = organization_for(request, organization_id, MANAGE)
        return Response(
            SpendLimitOutput(spend_policy_list_for_org(organization_id=org.pk), many=True).data
        )

    @extend_schema(
        operation_id="spend_limits_create",
        examples=example(
            "Organization cap",
            {
                "name": "org cap",
                "scope": "organization",
                "windows": [{"window": "monthly", "limit_usd": "5000"}],
            },
        ),
        request=InputSerializer,
        responses=responses(SpendLimitOutput, 400, 403, 404, 409, status=201),
    )
    def post(self, request: Request, organization_id: int) -> Response:
        org = organization_for(request, organization_id, MANAGE)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if SpendPolicy.objects.filter(organization=org, name=data["name"]).exists():
            raise Conflict(f"A spend limit named {data['name']!r} already exists.")
        policy = spend_policy_upsert(
            organization=org,
            name=data["name"],
            scope=data["scope"],
            kind=data["kind"],
            customer=data.get("customer", ""),
            windows={w["window"]: w["limit_usd"] for w in data["windows"]},
            enabled=data["enabled"],
            actor=actor_of(request),
            **_unpriced(data),
            **_subjects(org, data),
        )
        if data.get("alert_thresholds"):
            alert_thresholds_set(
                policy=policy, thresholds=data["alert_thresholds"], actor=actor_of(request)
            )
        return Response(SpendLimitOutput(_spend_policy(org, policy.pk)).data, status=201)


class SpendLimitDetailApi(ApiView):
    class InputSerializer(UnpricedSerializer):
        enabled = serializers.BooleanField(required=False)
        windows = SpendWindowSerializer(
            many=True,
            required=False,
            allow_empty=False,
            help_text="Windows to set; windows not listed keep their limit.",
        )
        alert_thresholds = alert_thresholds_field(required=False)

        class Meta:
            ref_name = "SpendLimitUpdate"

    @extend_schema(
        operation_id="spend_limits_retrieve", responses=responses(SpendLimitOutput, 403, 404)
    )
    def get(self, request: Request, organization_id: int, policy_id: int) -> Response:
        org = organization_for(request, organization_id, MANAGE)
        return Response(SpendLimitOutput(_spend_policy(org, policy_id)).data)

    @extend_schema(
        operation_id="spend_limits_update",
        request=InputSerializer,
        responses=responses(SpendLimitOutput, 400, 403, 404),
    )
    def patch(self, request: Request, organization_id: int, policy_id: int) -> Response:
        org = organization_for(request, organization_id, MANAGE)
        policy = _spend_policy(org, policy_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        windows = data.get("windows") or [
            {"window": w.window, "limit_usd": w.limit_usd} for w in policy.windows.all()
        ]
        spend_policy_upsert(
            organization=org,
            name=policy.name,
            scope=policy.scope,
            kind=policy.kind,
            workspace=policy.workspace,
            api_key=policy.api_key,
            user=policy.user,
            customer=policy.customer,
            windows={w["window"]: w["limit_usd"] for w in windows},
            enabled=data.get("enabled", policy.enabled),
            actor=actor_of(request),
            **_unpriced(data),
        )
        if "alert_thresholds" in data:
            alert_thresholds_set(
                policy=policy, thresholds=data["alert_thresholds"], actor=actor_of(request)
            )
        return Response(SpendLimitOutput(_spend_policy(org, policy.pk)).data)

    @extend_schema(
        operation_id="spend_limits_delete", responses=responses(None, 403, 404, status=204)
    )
    def delete(self, request: Request, organization_id: int, policy_id: int) -> Response:
        org = organization_for(request, organization_id, MANAGE)
        spend_policy_delete(policy=_spend_policy(org, policy_id), actor=actor_of(request))
        return Response(status=204)


class AlertChannelCreated(AlertChannelOutput):
    secret = serializers.CharField(
        allow_null=True,
        help_text="A webhook's signing secret, shown this once (null for Slack and e-mail). "
        "Each post carries X-Gateway-Signature: sha256=<hex HMAC-SHA256 of "
        "'<X-Gateway-Timestamp>.<body>'>.",
    )

    class Meta(AlertChannelOutput.Meta):
        ref_name = "SpendAlertChannelCreated"
        fields = (*AlertChannelOutput.Meta.fields, "secret")


class AlertChannelListApi(ApiView):
    class InputSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(choices=SpendAlertChannel.Kind.choices)
        target = serializers.CharField(
            max_length=500,
            help_text="Webhook or Slack incoming-webhook URL (its host must be in "
            "GATEWAY_UPSTREAM_ALLOWED_HOSTS unless a superuser asks), or an e-mail address.",
        )

        class Meta:
            ref_name = "SpendAlertChannelCreate"

    @extend_schema(
        operation_id="spend_alert_channels_list",
        responses=responses(AlertChannelOutput(many=True), 403, 404),
    )
    def get(self, request: Request, organization_id: int, policy_id: int) -> Response:
        org = organization_for(request, organization_id, MANAGE)
        policy = _spend_policy(org, policy_id)
        return Response(AlertChannelOutput(policy.alert_channels.all(), many=True).data)

    @extend_schema(
        operation_id="spend_alert_channels_create",
        examples=example(
            "Signed webhook", {"kind": "webhook", "target": "https://hooks.example.com/gateway"}
        ),
        request=InputSerializer,
        responses=responses(AlertChannelCreated, 400, 403, 404, status=201),
    )
    def post(self, request: Request, organization_id: int, policy_id: int) -> Response:
        org = organization_for(request, organization_id, MANAGE)
        policy = _spend_policy(org, policy_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        channel, secret = alert_channel_add(
            policy=policy, actor=actor_of(request), **serializer.validated_data
        )
        channel.secret = secret  # type: ignore[attr-defined]
        return Response(AlertChannelCreated(channel).data, status=201)


class AlertChannelDetailApi(ApiView):
    @extend_schema(
        operation_id="spend_alert_channels_delete", responses=responses(None, 403, 404, status=204)
    )
    def delete(
        self, request: Request, organization_id: int, policy_id: int, channel_id: int
    ) -> Response:
        org = organization_for(request, organization_id, MANAGE)
        channel = _spend_policy(org, policy_id).alert_channels.filter(pk=channel_id).first()
        if channel is None:
            raise exceptions.NotFound("Alert channel not found.")
        alert_channel_delete(channel=channel, actor=actor_of(request))
        return Response(status=204)


class AlertDeliveryOutput(serializers.ModelSerializer):
    policy = serializers.IntegerField(source="alert.policy_id")
    member = serializers.CharField(source="alert.member")
    window = serializers.CharField(source="alert.window")
    window_start = serializers.DateTimeField(source="alert.window_start")
    threshold_percent = serializers.IntegerField(source="alert.threshold")
    spent_usd = serializers.DecimalField(source="alert.spent_usd", max_digits=20, decimal_places=6)
    limit_usd = serializers.DecimalField(source="alert.limit_usd", max_digits=14, decimal_places=6)

    class Meta:
        model = SpendAlertDelivery
        ref_name = "SpendAlertDelivery"
        fields = (
            "id",
            "policy",
            "member",
            "window",
            "window_start",
            "threshold_percent",
            "spent_usd",
            "limit_usd",
            "kind",
            "target",
            "status",
            "attempts",
            "response_status",
            "last_error",
            "created_at",
            "delivered_at",
        )


class AlertDeliveryListApi(ApiView):
    @extend_schema(
        operation_id="spend_alert_deliveries_list",
        description="The budget alert delivery log, newest first (the latest 200).",
        responses=responses(AlertDeliveryOutput(many=True), 403, 404),
    )
    def get(self, request: Request, organization_id: int) -> Response:
        org = organization_for(request, organization_id, MANAGE)
        rows = SpendAlertDelivery.objects.filter(alert__policy__organization=org).select_related(
            "alert"
        )[:200]
        return Response(AlertDeliveryOutput(rows, many=True).data)


class CustomPatternSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=40)
    pattern = serializers.CharField(max_length=500)

    class Meta:
        ref_name = "RedactionCustomPattern"


class RedactionFieldsSerializer(serializers.Serializer):
    """The editable settings; on create, omitted ones take the defaults."""

    name = serializers.CharField(max_length=200, required=False)
    enabled = serializers.BooleanField(required=False)
    pii_enabled = serializers.BooleanField(required=False)
    pii_rules = serializers.ListField(
        child=serializers.ChoiceField(choices=PII_RULE_IDS), required=False
    )
    secrets_enabled = serializers.BooleanField(required=False)
    secret_rules = serializers.ListField(
        child=serializers.ChoiceField(choices=SECRET_RULE_IDS), required=False
    )
    custom_patterns = CustomPatternSerializer(many=True, required=False, max_length=10)
    scan_system_prompts = serializers.BooleanField(required=False)
    restore_responses = serializers.BooleanField(required=False)
    timeout_ms = serializers.IntegerField(required=False, min_value=50, max_value=60_000)
    on_timeout = serializers.ChoiceField(choices=RedactionPolicy.OnTimeout.choices, required=False)

    class Meta:
        ref_name = "RedactionPolicyUpdate"


class RedactionPolicyOutput(serializers.ModelSerializer):
    custom_patterns = CustomPatternSerializer(many=True)
    pii_rules = serializers.ListField(child=serializers.CharField())
    secret_rules = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = RedactionPolicy
        ref_name = "RedactionPolicy"
        fields = (
            "id",
            "scope",
            "workspace",
            "api_key",
            "user",
            "name",
            "enabled",
            "pii_enabled",
            "pii_rules",
            "secrets_enabled",
            "secret_rules",
            "custom_patterns",
            "scan_system_prompts",
            "restore_responses",
            "timeout_ms",
            "on_timeout",
            "created_at",
            "updated_at",
        )


def _redaction_policy(organization: Organization, policy_id: int) -> RedactionPolicy:
    policy = RedactionPolicy.objects.for_organization(organization).filter(pk=policy_id).first()
    if policy is None:
        raise exceptions.NotFound("Redaction policy not found.")
    return policy


def _fields(data: dict[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in data.items() if k in RedactionFieldsSerializer().fields}
    if "custom_patterns" in fields:
        fields["custom_patterns"] = [dict(p) for p in fields["custom_patterns"]]
    return fields


def _redaction_exists(organization: Organization, scope: str, subjects: dict[str, Any]) -> bool:
    """Whether the subject already has its (one) policy; a missing subject is the service's 400."""
    existing = RedactionPolicy.objects.for_organization(organization).filter(scope=scope)
    if scope == RedactionPolicy.Scope.ORGANIZATION:
        return existing.exists()
    subject = subjects.get(scope)
    return subject is not None and existing.filter(**{scope: subject}).exists()


class RedactionPolicyListApi(ApiView):
    class InputSerializer(RedactionFieldsSerializer):
        scope = serializers.ChoiceField(choices=RedactionPolicy.Scope.choices)
        workspace = serializers.IntegerField(required=False, allow_null=True, min_value=1)
        api_key = serializers.IntegerField(required=False, allow_null=True, min_value=1)
        user = serializers.IntegerField(required=False, allow_null=True, min_value=1)

        class Meta:
            ref_name = "RedactionPolicyCreate"

    @extend_schema(
        operation_id="redaction_policies_list",
        responses=responses(RedactionPolicyOutput(many=True), 403, 404),
    )
    def get(self, request: Request, organization_id: int) -> Response:
        org = organization_for(request, organization_id, MANAGE)
        policies = RedactionPolicy.objects.for_organization(org).order_by("scope", "id")
        return Response(RedactionPolicyOutput(policies, many=True).data)

    @extend_schema(
        operation_id="redaction_policies_create",
        examples=example(
            "Organization default", {"scope": "organization", "pii_rules": ["email", "phone"]}
        ),
        description="Create the policy of one subject (one per organization, workspace, key or user).",
        request=InputSerializer,
        responses=responses(RedactionPolicyOutput, 400, 403, 404, 409, status=201),
    )
    def post(self, request: Request, organization_id: int) -> Response:
        org = organization_for(request, organization_id, MANAGE)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        subjects = _subjects(org, data)
        if _redaction_exists(org, data["scope"], subjects):
            raise Conflict("This subject already has a redaction policy; PATCH it instead.")
        policy = redaction_policy_set(
            organization=org,
            scope=data["scope"],
            actor=actor_of(request),
            **subjects,
            **_fields(data),
        )
        return Response(RedactionPolicyOutput(policy).data, status=201)


class RedactionPolicyDetailApi(ApiView):
    @extend_schema(
        operation_id="redaction_policies_retrieve",
        responses=responses(RedactionPolicyOutput, 403, 404),
    )
    def get(self, request: Request, organization_id: int, policy_id: int) -> Response:
        org = organization_for(request, organization_id, MANAGE)
        return Response(RedactionPolicyOutput(_redaction_policy(org, policy_id)).data)

    @extend_schema(
        operation_id="redaction_policies_update",
        request=RedactionFieldsSerializer,
        responses=responses(RedactionPolicyOutput, 400, 403, 404),
    )
    def patch(self, request: Request, organization_id: int, policy_id: int) -> Response:
        org = organization_for(request, organization_id, MANAGE)
        policy = _redaction_policy(org, policy_id)
        serializer = RedactionFieldsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        policy = redaction_policy_set(
            organization=org,
            scope=policy.scope,
            workspace=policy.workspace,
            api_key=policy.api_key,
            user=policy.user,
            actor=actor_of(request),
            **_fields(serializer.validated_data),
        )
        return Response(RedactionPolicyOutput(policy).data)

    @extend_schema(
        operation_id="redaction_policies_delete", responses=responses(None, 403, 404, status=204)
    )
    def delete(self, request: Request, organization_id: int, policy_id: int) -> Response:
        org = organization_for(request, organization_id, MANAGE)
        redaction_policy_delete(policy=_redaction_policy(org, policy_id), actor=actor_of(request))
        return Response(status=204)
