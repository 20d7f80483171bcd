"""The admin's agent-config download for one gateway key (SPEC §5).

Thin adapters over rollout.agent_config: the same files `manage.py export_agent_config` writes,
with KEY_PLACEHOLDER in place of the key (the admin stores only a hash and cannot show it
again). Both views are wrapped in the admin site's `admin_view` (login, admin access) in
rollout/urls.py and check `workspaces:manage` on the key's workspace through orgs.permissions;
a key outside the user's scope answers 404, never 403, so its id leaks nothing.
"""

from __future__ import annotations

import io
import zipfile
from typing import TYPE_CHECKING

from django.contrib import admin
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render

from orgs.models import ApiKey
from orgs.permissions import has_permission
from rollout.agent_config import (
    AGENTS,
    KEY_PLACEHOLDER,
    AgentConfigError,
    build_agent_files,
    locations_text,
    parse_models,
)

if TYPE_CHECKING:
    from django.http import HttpRequest

AGENT_LABELS = {
    "claude-code": "Claude Code",
    "codex": "Codex",
    "gemini-cli": "Gemini CLI",
    "env": "SDK environment (OpenAI, Anthropic, Google GenAI)",
}


def _key_for(request: HttpRequest, key_id: int) -> ApiKey:
    """The key if the user may manage its workspace (or, for an organization-scoped key, its
    organization); Http404 otherwise, whether or not the id exists."""
    key = ApiKey.objects.select_related("workspace", "organization").filter(pk=key_id).first()
    if key is None:
        raise Http404("No such key.")
    if key.workspace is not None:
        allowed = has_permission(request.user, "workspaces:manage", workspace=key.workspace)
    else:
        allowed = has_permission(request.user, "organization:manage", organization=key.organization)
    if not allowed:
        raise Http404("No such key.")
    return key


def _base_url(request: HttpRequest) -> str:
    # The proxy is mounted beside the admin in the same ASGI app, so the admin's own origin is
    # the gateway's unless the admin names another (e.g. the load balancer's public name).
    return request.GET.get("base_url") or request.build_absolute_uri("/").rstrip("/")


def _org_key_refusal(key: ApiKey) -> HttpResponse | None:
    if key.workspace is None:
        return HttpResponseBadRequest(
            "This is an organization-scoped key: the gateway refuses those. Create a "
            "workspace-scoped service key and download its configuration.",
            content_type="text/plain",
        )
    return None


def agent_config_page(request: HttpRequest, key_id: int) -> HttpResponse:
    """A page listing the downloads for each agent, with where the files go."""
    key = _key_for(request, key_id)
    refusal = _org_key_refusal(key)
    if refusal is not None:
        return refusal
    agents = []
    for agent in AGENTS:
        files = build_agent_files(agent=agent, base_url=_base_url(request), key=None)
        managed = build_agent_files(
            agent=agent, base_url=_base_url(request), key=None, managed=True
        )
        agents.append(
            {
                "slug": agent,
                "label": AGENT_LABELS[agent],
                "locations": locations_text(files),
                "managed_locations": locations_text(managed),
            }
        )
    context = {
        **admin.site.each_context(request),
        "title": f"Coding-agent configuration for {key.display_prefix}",
        "key": key,
        "agents": agents,
        "base_url": _base_url(request),
        "placeholder": KEY_PLACEHOLDER,
    }
    return render(request, "rollout/agent_config.html", context)


def agent_config_download(request: HttpRequest, key_id: int, agent: str) -> HttpResponse:
    """A zip of the files for `agent` (placeholder key) plus README.txt with their locations.

    Query parameters: managed=1 for the MDM files, models=m1,m2, base_url=<gateway root>.
    """
    key = _key_for(request, key_id)
    refusal = _org_key_refusal(key)
    if refusal is not None:
        return refusal
    if agent not in AGENTS:
        raise Http404("No such agent.")
    managed = request.GET.get("managed") in ("1", "true", "on")
    try:
        files = build_agent_files(
            agent=agent,
            base_url=_base_url(request),
            key=None,
            managed=managed,
            models=parse_models(request.GET.get("models")),
        )
    except AgentConfigError as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain")
    readme = (
        f"{AGENT_LABELS[agent]} configuration for the LLM Gateway, key {key.display_prefix}.\n"
        f"Replace {KEY_PLACEHOLDER} with the key (it was shown once when it was created).\n\n"
        + locations_text(files)
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for f in files:
            archive.writestr(f.name, f.content)
        archive.writestr("README.txt", readme)
    name = f"llm-gateway-{agent}{'-managed' if managed else ''}-{key.lookup_id}.zip"
    response = HttpResponse(buffer.getvalue(), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
