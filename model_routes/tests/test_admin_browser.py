"""The model routes page in headless Chromium: a workspace admin adds a route with a fallback
chain and an alias, sees it listed, and never sees another organization's routes."""

from __future__ import annotations

import pytest

from model_routes import services
from model_routes.models import ModelRoute
from orgs.tests.test_admin_browser import page, shot, sign_in  # noqa: F401 - `page` is a fixture

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_a_workspace_admin_adds_a_route_with_fallbacks(live_server, page, owner, outsider):  # noqa: F811
    services.route_set(workspace=outsider.workspace, name="theirs", chain=["openai/gpt-4o-mini"])
    sign_in(page, live_server.url, owner.user.email, owner.password)
    page.goto(f"{live_server.url}/admin/model_routes/modelroute/add/")
    page.select_option("#id_workspace", str(owner.workspace.pk))
    page.fill("#id_name", "coding")
    page.fill(
        "#id_chain_text",
        'anthropic/claude-haiku-4-5\nopenai/gpt-4o-mini {"temperature": 0}',
    )
    page.uncheck("input[name=fallback][value=timeout]")
    page.fill("#id_aliases_text", "claude-haiku-*")
    shot(page, "workspace-admin-route-add")
    page.click("input[name=_save]")
    page.wait_for_selector("#result_list")
    listing = page.inner_text("#result_list")
    assert "route/coding" in listing and "theirs" not in listing
    assert "anthropic/claude-haiku-4-5 → openai/gpt-4o-mini" in listing
    route = ModelRoute.objects.get(workspace=owner.workspace, name="coding")
    assert route.fallback_on == ["429", "5xx", "connect"] and route.aliases == ["claude-haiku-*"]
    assert route.chain[1]["params"] == {"temperature": 0}
    shot(page, "workspace-admin-routes")
