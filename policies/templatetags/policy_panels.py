"""Panels of the policies app on other apps' admin pages (loaded by name in their templates,
so no Python import runs from those apps to this one)."""

from __future__ import annotations

from typing import Any

from django import template

from orgs.permissions import has_permission

register = template.Library()


@register.inclusion_tag("policies/effective_panel.html", takes_context=True)
def key_policies(context: Any, key: Any) -> dict[str, Any]:
    """The effective redaction policy and the spend limits (with the current windows' spend)
    of every call made with `key`. Shown to whoever may see the key's page: the policies'
    names and limits are what decides that key's calls."""
    # Imported here: template tag modules are imported by Django's checks in every command,
    # and policies.effective loads the redaction scanner's module.
    from policies.effective import effective_for_key

    user = context["request"].user
    return {
        "effective": effective_for_key(key),
        "may_edit": has_permission(user, "organization:manage", organization=key.organization),
    }


@register.inclusion_tag("policies/organization_panel.html", takes_context=True)
def organization_policies(context: Any, organization: Any) -> dict[str, Any]:
    """The organization's spend limits (with current spend) and redaction policies."""
    from policies.redaction.models import RedactionPolicy
    from policies.spend.models import SpendPolicy
    from policies.spend.selectors import current_spend

    user = context["request"].user
    spend = SpendPolicy.objects.filter(organization=organization).prefetch_related("windows")
    return {
        "may_edit": has_permission(user, "organization:manage", organization=organization),
        "spend": [(p, current_spend(p)) for p in spend],
        "redaction": RedactionPolicy.objects.filter(organization=organization).select_related(
            "workspace__organization", "api_key", "user"
        ),
        "gateway_enabled": organization.llm_gateway_enabled,
        "organization": organization,
    }
