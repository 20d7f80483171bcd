from __future__ import annotations

from api.tests.conftest import detail
from model_routes.models import ModelRoute
from orgs.models import AuditLogEntry


def routes_url(persona, name=""):
    base = f"/api/v1/workspaces/{persona.workspace.pk}/routes/"
    return f"{base}{name}/" if name else base


def test_set_list_delete_a_route_with_audit_entries(owner, api):
    body = {
        "chain": [
            "openai/gpt-4o-mini",
            {"model": "anthropic/claude-haiku-4-5", "params": {"temperature": 0}},
        ],
        "fallback_on": ["5xx", "429"],
        "aliases": ["claude-haiku-*"],
    }
    response = api.put(routes_url(owner, "fast"), body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["fallback_on"] == ["429", "5xx"]
    assert response.json()["chain"][0] == {"model": "openai/gpt-4o-mini", "params": {}}
    listed = api.get(routes_url(owner)).json()
    assert [(r["name"], r["aliases"]) for r in listed] == [("fast", ["claude-haiku-*"])]
    assert api.delete(routes_url(owner, "fast")).status_code == 204
    assert not ModelRoute.objects.exists()
    actions = set(AuditLogEntry.objects.values_list("action", flat=True))
    assert {"model_route.set", "model_route.delete"} <= actions


def test_a_bad_chain_is_400_naming_the_candidate(owner, api):
    response = api.put(routes_url(owner, "bad"), {"chain": ["gpt-4o-mini"]}, format="json")
    assert response.status_code == 400
    assert "candidate 1" in detail(response)
    response = api.put(
        routes_url(owner, "bad"), {"chain": ["openai/x"], "fallback_on": ["4xx"]}, format="json"
    )
    assert response.status_code == 400


def test_member_without_workspaces_manage_is_403(owner, as_member):
    assert as_member.get(routes_url(owner)).status_code == 403
    body = {"chain": ["openai/gpt-4o-mini"]}
    assert as_member.put(routes_url(owner, "x"), body, format="json").status_code == 403


def test_outsider_gets_404(owner, api, as_outsider):
    api.put(routes_url(owner, "fast"), {"chain": ["openai/gpt-4o-mini"]}, format="json")
    assert as_outsider.get(routes_url(owner)).status_code == 404
    body = {"chain": ["anthropic/claude-haiku-4-5"]}
    assert as_outsider.put(routes_url(owner, "fast"), body, format="json").status_code == 404
    assert as_outsider.delete(routes_url(owner, "fast")).status_code == 404
    assert ModelRoute.objects.get().chain == [{"model": "openai/gpt-4o-mini", "params": {}}]
