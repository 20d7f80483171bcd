"""The admin's "effective policy" page: what applies to a workspace, an API key or a user of
an organization the viewer manages (policies.effective). Wrapped in the admin site's
`admin_view` in policies/urls.py. A subject outside the viewer's scope is "not found", the
same answer as a subject that does not exist."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.shortcuts import render

from orgs.admin.labels import workspace_label
from orgs.models import ApiKey, Organization, Workspace
from orgs.permissions import has_permission, visible_organization_ids, visible_workspace_ids
from orgs.services import api_key_find

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

    from policies.effective import Effective

# policies.effective is imported when a page asks: it loads the redaction scanner's module
# (presidio), which the URL configuration must not pull into every management command.


class EffectiveForm(forms.Form):
    organization = forms.ModelChoiceField(queryset=Organization.objects.none(), required=False)
    workspace = forms.ModelChoiceField(queryset=Workspace.objects.none(), required=False)
    key = forms.CharField(required=False, help_text="Key prefix (gw_sk_… / gw_pt_…) or id.")
    user = forms.CharField(required=False, help_text="E-mail of a member (with the organization).")

    def __init__(self, *args: Any, viewer: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        org_ids = visible_organization_ids(viewer, "organization:manage")
        ws_ids = visible_workspace_ids(viewer, "workspaces:manage")
        orgs = Organization.objects.all()
        workspaces = Workspace.objects.select_related("organization")
        self.fields["organization"].queryset = (  # type: ignore[attr-defined]
            orgs if org_ids is None else orgs.filter(pk__in=org_ids)
        )
        self.fields["workspace"].queryset = (  # type: ignore[attr-defined]
            workspaces if ws_ids is None else workspaces.filter(pk__in=ws_ids)
        )
        self.fields["workspace"].label_from_instance = workspace_label  # type: ignore[attr-defined]


def _may_see(viewer: Any, organization: Organization, workspace: Workspace | None) -> bool:
    if has_permission(viewer, "organization:manage", organization=organization):
        return True
    return workspace is not None and has_permission(
        viewer, "workspaces:manage", workspace=workspace
    )


def _resolve(form: EffectiveForm, viewer: Any) -> Effective | str | None:
    """The effective policies asked for, a one-line reason, or None when nothing was asked."""
    from policies.effective import (
        effective_for_key,
        effective_for_organization,
        effective_for_user,
        effective_for_workspace,
    )

    data = form.cleaned_data
    not_found = "Not found (or not yours to see)."
    if data.get("key"):
        key = api_key_find(data["key"].strip())
        if not isinstance(key, ApiKey) or not _may_see(viewer, key.organization, key.workspace):
            return not_found
        return effective_for_key(key)
    if data.get("user"):
        org = data.get("organization")
        user = get_user_model().objects.filter(email__iexact=data["user"].strip()).first()
        if org is None:
            return "Pick the organization of the user."
        if user is None or not _may_see(viewer, org, None):
            return not_found
        return effective_for_user(user, org, viewer=viewer)
    if data.get("workspace"):
        return effective_for_workspace(data["workspace"])
    if data.get("organization"):
        return effective_for_organization(data["organization"])
    return None


def effective_page(request: HttpRequest) -> HttpResponse:
    form = EffectiveForm(request.GET or None, viewer=request.user)
    result = _resolve(form, request.user) if form.is_valid() else None
    context = {
        **admin.site.each_context(request),
        "title": "Effective policies",
        "form": form,
        "effective": None if result is None or isinstance(result, str) else result,
        "problem": result if isinstance(result, str) else None,
        "may_edit": True,
    }
    return render(request, "policies/effective_page.html", context)
