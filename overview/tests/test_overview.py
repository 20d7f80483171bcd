"""The gateway overview page: scope (outsider 404, workspace admins see their workspaces), the
set-up checklist and where its steps lead, the charts per grouping, the table and its CSV, the
policy events linked to their runs."""

from __future__ import annotations

import csv
import io
import time

import pytest
from django.urls import reverse

from orgs import services
from orgs.models import Role
from policies.spend.services import spend_policy_upsert
from secrets_vault.services import secret_set
from tracing.models import Run
from tracing.rollup import usage_rollup_refresh
from tracing.services import runs_ingest
from tracing.tests.factories import call_record

pytestmark = pytest.mark.django_db
DAY = 86_400


def _url(org) -> str:
    return reverse("overview:organization", args=[org.pk])


def _calls(persona, *, days_ago=(0, 1, 3), model="gpt-4o-mini", **overrides):
    now = time.time()
    records = [
        call_record(persona, started_at=now - d * DAY - 60, model=model, **overrides)
        for d in days_ago
    ]
    runs_ingest(records)
    return records


def test_an_outsider_gets_404_and_a_member_without_admin_rights_too(
    client, owner, member, outsider
):
    client.force_login(outsider.user)
    assert client.get(_url(owner.organization)).status_code == 404
    assert client.get(_url(owner.organization) + "?format=csv").status_code == 404
    assert client.get(reverse("overview:organization", args=[999_999])).status_code == 404
    client.force_login(member.user)  # WORKSPACE_USER of acme/main: manages nothing
    assert client.get(_url(owner.organization)).status_code == 404
    assert client.get(reverse("overview:index")).status_code == 404
    client.logout()
    response = client.get(_url(owner.organization))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_workspace_admin_sees_only_their_workspaces(client, owner):
    other_ws = services.workspace_upsert(organization=owner.organization, slug="secret-team")
    _calls(owner, model="mine-model")
    runs_ingest(
        [
            call_record(
                owner, workspace_id=other_ws.pk, model="their-model", started_at=time.time() - 60
            )
        ]
    )
    client.force_login(owner.user)  # WORKSPACE_ADMIN of acme/main only
    response = client.get(_url(owner.organization) + "?group=model")
    assert response.status_code == 200
    body = response.content.decode()
    assert "mine-model" in body and "their-model" not in body and "secret-team" not in body
    # The index links the page first and the overview index goes straight to it.
    first = client.get(reverse("admin:index")).context["app_list"][0]
    assert first["name"] == "Gateway overview"
    assert [m["admin_url"] for m in first["models"]] == [_url(owner.organization)]
    assert client.get(reverse("overview:index"))["Location"] == _url(owner.organization)


def test_the_checklist_follows_the_set_up_and_links_each_unmet_step_to_its_fix(
    client, org_admin, settings
):
    settings.GATEWAY_UPSTREAM_ALLOWED_HOSTS = []
    org = org_admin.organization
    services.organization_upsert(slug=org.slug, llm_gateway_enabled=False)
    services.api_key_revoke(api_key=org_admin.key)
    client.force_login(org_admin.user)
    steps = {s.key: s for s in client.get(_url(org)).context["steps"]}
    assert [k for k, s in steps.items() if s.done] == []
    for step in steps.values():  # every fix is a page the organization admin can open
        assert client.get(step.fix_url).status_code == 200, step.fix_url

    services.organization_upsert(slug=org.slug, llm_gateway_enabled=True)
    secret_set(workspace=org_admin.workspace, name="OPENAI_API_KEY", value="sk-test-1234")
    services.api_key_create(
        organization=org,
        workspace=org_admin.workspace,
        role=Role.objects.get(builtin=True, name="WORKSPACE_ADMIN"),
        name="ci",
    )
    spend_policy_upsert(organization=org, name="cap", scope="organization", windows={"daily": "5"})
    _calls(org_admin, days_ago=(0,))
    steps = {s.key: s for s in client.get(_url(org)).context["steps"]}
    assert steps["enabled"].done and steps["secrets"].done and steps["invoke"].done
    assert steps["policies"].done and steps["call"].done
    run = Run.objects.filter(status="success").latest("started_at")
    assert steps["call"].link_url == reverse("admin:tracing_run_change", args=[run.pk])
    assert client.get(steps["call"].link_url).status_code == 200


def test_charts_table_and_csv_per_grouping_from_rollups_and_raw_rows(client, org_admin):
    _calls(org_admin, days_ago=(0, 2, 5), model="gpt-4o-mini", cost_usd=0.25)
    _calls(org_admin, days_ago=(1,), model="claude-haiku-4-5", cost_usd=1.0)
    usage_rollup_refresh()  # closed days now come from UsageDaily, today from raw rows
    client.force_login(org_admin.user)
    for group, expected in (
        ("model", {"gpt-4o-mini", "claude-haiku-4-5"}),
        ("workspace", {"main"}),
        ("key", {f"{org_admin.key.display_prefix} ({org_admin.key.name})"}),
        ("user", {org_admin.user.get_username()}),
    ):
        response = client.get(_url(org_admin.organization) + f"?group={group}")
        assert response.status_code == 200
        daily = response.context["daily"]
        assert {s.label for s in daily.series} == expected
        assert round(sum(sum(s.spend) for s in daily.series), 6) == 1.75
        assert daily.totals["calls"] == 4
        body = response.content.decode()
        assert body.count('class="overview-chart"') == 3
        assert 'src="http' not in body and 'href="http' not in body  # nothing from elsewhere
        rows = list(
            csv.reader(
                io.StringIO(
                    client.get(
                        _url(org_admin.organization) + f"?group={group}&format=csv"
                    ).content.decode()
                )
            )
        )
        assert rows[0][:3] == ["day", group, "calls"]
        assert {r[1] for r in rows[1:]} == expected
        assert sum(int(r[2]) for r in rows[1:]) == 4
    tops = {title: rows for title, _, rows in response.context["tops"]}
    assert [r["label"] for r in tops["Top models"]] == ["claude-haiku-4-5", "gpt-4o-mini"]
    hourly = response.context["hourly"]
    assert sum(hourly.calls) == 2  # today's and yesterday's calls (60 s before now - 0/1 day)


def test_policy_events_list_blocks_and_redactions_linked_to_their_runs(client, org_admin):
    blocked = call_record(
        org_admin,
        status="blocked",
        http_status=402,
        error="request blocked by gateway policies: cap",
        policy_results={"violated": [{"id": 1, "name": "cap", "type": "spend"}]},
        cost_usd=None,
    )
    redacted = call_record(org_admin, redaction_counts={"EMAIL_ADDRESS": 2})
    runs_ingest([blocked, redacted, call_record(org_admin)])
    client.force_login(org_admin.user)
    events = client.get(_url(org_admin.organization)).context["events"]
    kinds = sorted(e.kind for e in events)
    assert kinds == ["redaction", "spend limit"]
    for event in events:
        assert client.get(event.url).status_code == 200
