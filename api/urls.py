"""Routes of the management API, mounted at /api/v1/ by gateway_site/urls.py."""

from __future__ import annotations

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from api.views import (
    audit,
    keys,
    members,
    organizations,
    policies,
    policy_limits,
    providers,
    roles,
    routes,
    secrets,
    tracing,
    usage,
    workspaces,
)
from api.views.base import endpoint_not_found

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
    path("organizations/", organizations.OrganizationListApi.as_view(), name="organizations"),
    path(
        "organizations/<int:organization_id>/",
        organizations.OrganizationDetailApi.as_view(),
        name="organization",
    ),
    path("organizations/<int:organization_id>/roles/", roles.RoleListApi.as_view(), name="roles"),
    path(
        "organizations/<int:organization_id>/roles/<int:role_id>/",
        roles.RoleDetailApi.as_view(),
        name="role",
    ),
    path(
        "organizations/<int:organization_id>/spend-limits/",
        policies.SpendLimitListApi.as_view(),
        name="spend-limits",
    ),
    path(
        "organizations/<int:organization_id>/spend-limits/<int:policy_id>/",
        policies.SpendLimitDetailApi.as_view(),
        name="spend-limit",
    ),
    path(
        "organizations/<int:organization_id>/spend-limits/<int:policy_id>/alert-channels/",
        policies.AlertChannelListApi.as_view(),
        name="spend-alert-channels",
    ),
    path(
        "organizations/<int:organization_id>/spend-limits/<int:policy_id>/alert-channels/"
        "<int:channel_id>/",
        policies.AlertChannelDetailApi.as_view(),
        name="spend-alert-channel",
    ),
    path(
        "organizations/<int:organization_id>/spend-alert-deliveries/",
        policies.AlertDeliveryListApi.as_view(),
        name="spend-alert-deliveries",
    ),
    path(
        "organizations/<int:organization_id>/rate-limits/",
        policy_limits.RateLimitListApi.as_view(),
        name="rate-limits",
    ),
    path(
        "organizations/<int:organization_id>/rate-limits/<int:policy_id>/",
        policy_limits.RateLimitDetailApi.as_view(),
        name="rate-limit",
    ),
    path(
        "organizations/<int:organization_id>/model-access/",
        policy_limits.ModelAccessListApi.as_view(),
        name="model-access-policies",
    ),
    path(
        "organizations/<int:organization_id>/model-access/<int:policy_id>/",
        policy_limits.ModelAccessDetailApi.as_view(),
        name="model-access-policy",
    ),
    path(
        "organizations/<int:organization_id>/redaction-policies/",
        policies.RedactionPolicyListApi.as_view(),
        name="redaction-policies",
    ),
    path(
        "organizations/<int:organization_id>/redaction-policies/<int:policy_id>/",
        policies.RedactionPolicyDetailApi.as_view(),
        name="redaction-policy",
    ),
    path(
        "organizations/<int:organization_id>/members/",
        members.OrgMemberListApi.as_view(),
        name="organization-members",
    ),
    path(
        "organizations/<int:organization_id>/members/<int:user_id>/",
        members.OrgMemberDetailApi.as_view(),
        name="organization-member",
    ),
    path(
        "organizations/<int:organization_id>/service-keys/",
        keys.OrgServiceKeyListApi.as_view(),
        name="organization-service-keys",
    ),
    path(
        "organizations/<int:organization_id>/service-keys/<int:key_id>/",
        keys.OrgServiceKeyDetailApi.as_view(),
        name="organization-service-key",
    ),
    path("workspaces/", workspaces.WorkspaceListApi.as_view(), name="workspaces"),
    path(
        "workspaces/<int:workspace_id>/", workspaces.WorkspaceDetailApi.as_view(), name="workspace"
    ),
    path("workspaces/<int:workspace_id>/members/", members.MemberListApi.as_view(), name="members"),
    path(
        "workspaces/<int:workspace_id>/members/<int:user_id>/",
        members.MemberDetailApi.as_view(),
        name="member",
    ),
    path(
        "workspaces/<int:workspace_id>/service-keys/",
        keys.ServiceKeyListApi.as_view(),
        name="service-keys",
    ),
    path(
        "workspaces/<int:workspace_id>/service-keys/<int:key_id>/",
        keys.ServiceKeyDetailApi.as_view(),
        name="service-key",
    ),
    path("personal-tokens/", keys.PersonalTokenListApi.as_view(), name="personal-tokens"),
    path(
        "personal-tokens/<int:token_id>/",
        keys.PersonalTokenDetailApi.as_view(),
        name="personal-token",
    ),
    path("workspaces/<int:workspace_id>/secrets/", secrets.SecretListApi.as_view(), name="secrets"),
    path(
        "workspaces/<int:workspace_id>/secrets/<str:name>/",
        secrets.SecretDetailApi.as_view(),
        name="secret",
    ),
    path("workspaces/<int:workspace_id>/routes/", routes.RouteListApi.as_view(), name="routes"),
    path(
        "workspaces/<int:workspace_id>/routes/<str:name>/",
        routes.RouteDetailApi.as_view(),
        name="route",
    ),
    path(
        "workspaces/<int:workspace_id>/providers/",
        providers.ProviderListApi.as_view(),
        name="custom-providers",
    ),
    path(
        "workspaces/<int:workspace_id>/providers/<str:name>/",
        providers.ProviderDetailApi.as_view(),
        name="custom-provider",
    ),
    path("audit-log/", audit.AuditLogApi.as_view(), name="audit-log"),
    path(
        "workspaces/<int:workspace_id>/projects/", tracing.ProjectListApi.as_view(), name="projects"
    ),
    path("workspaces/<int:workspace_id>/runs/", tracing.RunListApi.as_view(), name="runs"),
    path(
        "workspaces/<int:workspace_id>/runs/<str:run_id>/",
        tracing.RunDetailApi.as_view(),
        name="run",
    ),
    path("usage/", usage.UsageSummaryApi.as_view(), name="usage"),
    re_path(r"^(?P<path>[\s\S]*)$", endpoint_not_found),  # last: JSON 404 for everything else
]
