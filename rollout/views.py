"""The admin's agent-config downloads for gateway keys.

Thin adapters over rollout.agent_config: the same files `manage.py export_agent_config` writes.
- For an existing key, with KEY_PLACEHOLDER in place of the key (the admin stores only a hash
  and cannot show it again); `workspaces:manage` on the key's workspace is needed.
- Right after a key is created, the shown-once page posts the new key back to
  `agent_config_with_key`, which returns the files with the key filled in. The key travels only
  in that POST body and the answer (no-store), is checked like any presented key (a wrong or
  revoked key is a 404), and must be one the user may manage or their own personal token.
Every view is wrapped in the admin site's `admin_view` (login, admin access) in rollout/urls.py;
a key outside the user's scope answers 404, never 403, so its id leaks nothing.
"""

from __future__ import annotations

import io
import zipfile
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.http import require_POST

from orgs.models import ApiKey
from orgs.permissions import has_permission
from orgs.services import api_key_authenticate
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
    "claude-code-bedrock": "Claude Code on Amazon Bedrock (through the gateway)",
    "claude-code-vertex": "Claude Code on Google Vertex AI (through the gateway)",
    "codex": "Codex",
    "gemini-cli": "Gemini CLI",
    "env": "SDK environment (OpenAI, Anthropic, Google GenAI)",
}


def _may_configure(request: HttpRequest, key: ApiKey) -> bool:
    if key.kind == ApiKey.Kind.PERSONAL and key.user_id == request.user.pk:
        return True
    if key.workspace is not None:
        return has_permission(request.user, "workspaces:manage", workspace=key.workspace)
    return has_permission(request.user, "organization:manage", organization=key.organization)


def _key_for(request: HttpRequest, key_id: int) -> ApiKey:
    """The key if the user may manage its workspace (or, for an organization-scoped key, its
    organization); Http404 otherwise, whether or not the id exists."""
    key = ApiKey.objects.select_related("workspace", "organization").filter(pk=key_id).first()
    if key is None or not _may_configure(request, key):
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
    return _zip_response(files, readme, key=key, agent=agent, managed=managed)


def _zip_response(
    files: list[Any], readme: str, *, key: ApiKey, agent: str, managed: bool
) -> HttpResponse:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for f in files:
            archive.writestr(f.name, f.content)
        archive.writestr("README.txt", readme)
    name = f"llm-gateway-{agent}{'-managed' if managed else ''}-{key.lookup_id}.zip"
    response = HttpResponse(buffer.getvalue(), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def agent_config_with_key(request: HttpRequest) -> HttpResponse:
    """POST key=<the new key>&agent=<agent>[&managed=1]: the files with the key filled in."""
    presented = (request.POST.get("key") or "").strip()
    agent = request.POST.get("agent") or ""
    if agent not in AGENTS:
        raise Http404("No such agent.")
    key = api_key_authenticate(presented)
    if key is None or not _may_configure(request, key):
        raise Http404("No such key.")
    refusal = _org_key_refusal(key)
    if refusal is not None:
        return refusal
    managed = request.POST.get("managed") in ("1", "true", "on")
    try:
        files = build_agent_files(
            agent=agent, base_url=_base_url(request), key=presented, managed=managed
        )
    except AgentConfigError as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain")
    readme = (
        f"{AGENT_LABELS[agent]} configuration for the LLM Gateway, key {key.display_prefix}.\n"
        "The files hold the key itself: keep them private (mode 0600), never commit them.\n\n"
        + locations_text(files)
    )
    return _zip_response(files, readme, key=key, agent=agent, managed=managed)
