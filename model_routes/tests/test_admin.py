"""The model routes admin page: a workspace admin adds a route through the services (audit
log), bad chains and taken aliases are form errors, an outsider gets 404."""

from __future__ import annotations

from django.urls import reverse

from model_routes import services
from model_routes.models import ModelRoute
from orgs.models import AuditLogEntry


def _login(client, persona):
    assert client.login(username=persona.user.username, password=persona.password)
    return client


def test_a_workspace_admin_adds_and_changes_a_route(client, owner):
    _login(client, owner)
    add = reverse("admin:model_routes_modelroute_add")
    assert client.get(add).status_code == 200
    response = client.post(
        add,
        {
            "workspace": owner.workspace.pk,
            "name": "fast",
            "chain_text": 'openai/gpt-4o-mini\nanthropic/claude-haiku-4-5 {"temperature": 0}',
            "fallback": ["429", "5xx"],
            "aliases_text": "claude-haiku-*",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    route = ModelRoute.objects.get(workspace=owner.workspace, name="fast")
    assert route.chain == [
        {"model": "openai/gpt-4o-mini", "params": {}},
        {"model": "anthropic/claude-haiku-4-5", "params": {"temperature": 0}},
    ]
    assert route.fallback_on == ["429", "5xx"] and route.aliases == ["claude-haiku-*"]
    assert AuditLogEntry.objects.filter(action="model_route.set").exists()
    change = reverse("admin:model_routes_modelroute_change", args=[route.pk])
    page = client.get(change).content.decode()
    assert "anthropic/claude-haiku-4-5 {&quot;temperature&quot;:0}" in page
    assert client.get(reverse("admin:model_routes_modelroute_changelist")).status_code == 200


def test_bad_chains_and_taken_aliases_are_form_errors(client, owner):
    services.route_set(
        workspace=owner.workspace, name="one", chain=["openai/gpt-4o-mini"], aliases=["gpt-*"]
    )
    _login(client, owner)
    response = client.post(
        reverse("admin:model_routes_modelroute_add"),
        {
            "workspace": owner.workspace.pk,
            "name": "two",
            "chain_text": "gpt-4o-mini",
            "fallback": ["5xx"],
            "aliases_text": "gpt-*",
        },
    )
    errors = response.context["adminform"].form.errors
    assert "PROVIDER/MODEL" in str(errors["chain_text"])
    assert "already names route/one" in str(errors["aliases_text"])
    assert ModelRoute.objects.count() == 1


def test_an_outsider_gets_404_and_a_member_403(client, owner, outsider, member):
    route = services.route_set(workspace=owner.workspace, name="fast", chain=["openai/x"])
    _login(client, outsider)
    for view in ("change", "delete", "history"):
        url = reverse(f"admin:model_routes_modelroute_{view}", args=[route.pk])
        assert client.get(url).status_code == 404
    client.logout()
    _login(client, member)
    assert client.get(reverse("admin:model_routes_modelroute_changelist")).status_code == 403
