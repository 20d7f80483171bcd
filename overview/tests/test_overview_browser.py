"""The gateway overview in headless Chromium (Debian's package, driven by Playwright, as the
admin's persona tests): it renders with data, the charts switch grouping, the checklist's links
lead to the pages that fix each step, the events lead to their runs, the CSV downloads, and an
outsider gets 404. Screenshots go to var/screenshots/ (ignored by git)."""

from __future__ import annotations

import time

import pytest

from orgs import services
from orgs.models import Role
from orgs.tests.test_admin_browser import shot, sign_in
from tracing.rollup import usage_rollup_refresh
from tracing.services import runs_ingest
from tracing.tests.factories import call_record

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
DAY = 86_400


def _usage(persona) -> None:
    now = time.time()
    records = [
        call_record(persona, started_at=now - d * DAY - 120, model=model, cost_usd=cost)
        for d in range(0, 12, 2)
        for model, cost in (("gpt-4o-mini", 0.02), ("claude-haiku-4-5", 0.05))
    ]
    records.append(
        call_record(
            persona,
            started_at=now - 300,
            status="blocked",
            http_status=402,
            error="request blocked by gateway policies: team cap",
            policy_results={"violated": [{"id": 1, "name": "team cap"}]},
            cost_usd=None,
        )
    )
    runs_ingest(records)
    usage_rollup_refresh()


def _org_admin(persona):
    services.org_member_set(
        organization=persona.organization,
        user=persona.user,
        role=Role.objects.get(builtin=True, name="ORGANIZATION_ADMIN"),
    )
    return persona


def test_the_overview_renders_with_data_and_its_charts_switch_grouping(
    live_server, page, owner, tmp_path
):
    admin = _org_admin(owner)
    _usage(admin)
    sign_in(page, live_server.url, admin.user.username, admin.password)
    first = page.locator("#content-main .module").first
    assert "Gateway overview" in (first.text_content() or "")
    first.locator("a").first.click()
    page.wait_for_selector("#checklist")
    assert page.locator("svg.overview-chart").count() == 3
    assert page.locator("#spend-chart svg rect").count() >= 6  # a bar per day with usage
    assert "main" in (page.text_content(".overview-legend") or "")
    shot(page, "overview-by-workspace")

    page.click("#group-switch a[data-group=model]")
    page.wait_for_url("**group=model**")
    legend = page.text_content(".overview-legend") or ""
    assert "gpt-4o-mini" in legend and "claude-haiku-4-5" in legend
    header = page.text_content("#usage-table thead") or ""
    assert "gpt-4o-mini" in header
    shot(page, "overview-by-model")

    page.click("#group-switch a[data-group=key]")
    page.wait_for_url("**group=key**")
    assert admin.key.display_prefix in (page.text_content(".overview-legend") or "")
    shot(page, "overview-by-key")

    with page.expect_download() as download:
        page.click("#csv-link")
    path = tmp_path / "usage.csv"
    download.value.save_as(path)
    lines = path.read_text().splitlines()
    assert lines[0].startswith("day,key,calls") and len(lines) >= 7

    page.click("#events tr.event-spend-limit a")
    page.wait_for_selector("#content-main")
    assert "request blocked by gateway policies: team cap" in (page.content() or "")
    shot(page, "overview-event-run")


def test_each_unmet_checklist_step_links_to_the_page_that_fixes_it(live_server, page, owner):
    admin = _org_admin(owner)
    services.organization_upsert(slug=admin.organization.slug, llm_gateway_enabled=False)
    sign_in(page, live_server.url, admin.user.username, admin.password)
    url = f"{live_server.url}/admin/overview/{admin.organization.pk}/"
    page.goto(url)
    shot(page, "overview-checklist-to-do")
    fixes = page.locator("#checklist a.step-fix")
    expected = {
        "step-enabled": f"/admin/orgs/organization/{admin.organization.pk}/change/",
        "step-secrets": "/admin/secrets_vault/providersecret/add/",
        "step-policies": "/admin/policies/spendpolicy/add/",
        "step-call": "/admin/orgs/servicekey/",
    }
    todo = {
        fixes.nth(i).evaluate("a => a.closest('li').id"): fixes.nth(i).get_attribute("href")
        for i in range(fixes.count())
    }
    assert set(expected) <= set(todo)
    for step, href in todo.items():
        assert href.split("?")[0] == expected.get(step, href.split("?")[0])
        page.goto(url)
        with page.expect_navigation():
            page.click(f"#{step} a.step-fix")
        assert page.locator("#content-main").count() == 1, step
        assert "Page not found" not in (page.title() or ""), step


def test_an_outsider_gets_404_and_a_workspace_admin_sees_their_workspaces(
    live_server, page, owner, outsider
):
    _usage(owner)
    url = f"{live_server.url}/admin/overview/{owner.organization.pk}/"
    sign_in(page, live_server.url, outsider.user.username, outsider.password)
    response = page.goto(url)
    assert response is not None and response.status == 404
    shot(page, "overview-outsider-404")
    page.context.clear_cookies()
    sign_in(page, live_server.url, owner.user.username, owner.password)  # WORKSPACE_ADMIN
    response = page.goto(url)
    assert response is not None and response.status == 200
    assert "Showing your workspaces only: main" in (page.text_content("#content-main") or "")
    shot(page, "overview-workspace-admin")
