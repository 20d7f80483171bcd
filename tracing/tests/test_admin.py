from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.urls import reverse

from orgs import services
from orgs.models import Organization
from tracing.models import Run, TracingProject
from tracing.services import runs_ingest
from tracing.tests.factories import call_record

pytestmark = pytest.mark.django_db


def run_url(run: Run) -> str:
    return reverse("admin:tracing_run_change", args=[run.pk])


LIST_URL = "/admin/tracing/run/"


def ingest(*records) -> list[Run]:
    runs_ingest(list(records))
    return [Run.objects.get(run_id=uuid.UUID(r.run_id)) for r in records]


def test_it_lists_only_the_users_workspace_runs_with_totals(client, owner, outsider):
    mine = ingest(call_record(owner), call_record(owner, input_tokens=200, cost_usd=0.5))
    theirs = ingest(call_record(outsider, model="their-secret-model"))
    client.force_login(owner.user)
    response = client.get(LIST_URL)
    assert response.status_code == 200
    shown = {r.pk for r in response.context["cl"].result_list}
    assert shown == {r.pk for r in mine}
    assert theirs[0].pk not in shown
    totals = response.context["run_totals"]
    assert totals["calls"] == 2
    assert totals["input_tokens"] == 320
    assert totals["output_tokens"] == 60
    assert float(totals["cost_usd"]) == pytest.approx(0.5000375)
    body = response.content.decode()
    assert 'data-total="calls">2<' in body
    assert "their-secret-model" not in body
    assert "charlie@other.test" not in body


def test_an_outsider_gets_404_on_another_workspaces_run(client, owner, outsider):
    run = ingest(call_record(owner))[0]
    client.force_login(outsider.user)
    assert client.get(run_url(run)).status_code == 404
    response = client.get(LIST_URL)
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []


def test_an_outsider_gets_404_on_another_workspaces_project(client, owner, outsider):
    ingest(call_record(owner))
    project = TracingProject.objects.get(workspace=owner.workspace)
    client.force_login(outsider.user)
    url = reverse("admin:tracing_tracingproject_change", args=[project.pk])
    assert client.get(url).status_code == 404


def test_a_workspace_viewer_reads_runs(client, owner, readonly_member):
    run = ingest(call_record(owner))[0]
    client.force_login(readonly_member.user)
    assert client.get(run_url(run)).status_code == 200
    assert client.get(LIST_URL).status_code == 200


def test_a_role_without_runs_read_gets_404_on_runs_and_403_on_the_list(client, owner):
    run = ingest(call_record(owner))[0]
    Organization.objects.filter(pk=owner.organization.pk).update(plan="enterprise")
    owner.organization.refresh_from_db()
    role = services.role_upsert(
        organization=owner.organization,
        name="PROJECTS_ONLY",
        permissions=["workspaces:read", "projects:read"],
    )
    user = services.user_get_or_create(email="erin@acme.test")
    user.is_staff = True
    user.save()
    services.member_set(workspace=owner.workspace, user=user, role=role)
    client.force_login(user)
    assert client.get(run_url(run)).status_code == 404
    assert client.get(LIST_URL).status_code == 403
    # projects:read alone still lists the projects
    assert client.get("/admin/tracing/tracingproject/").status_code == 200


def test_the_run_page_pretty_prints_content_only_when_stored(client, owner):
    without = ingest(call_record(owner))[0]
    owner.workspace.trace_content = True
    owner.workspace.save()
    with_content = ingest(
        call_record(
            owner,
            policy_results={"matched": [{"id": 7, "name": "pii"}]},
            redaction_counts={"EMAIL": 1},
        )
    )[0]
    client.force_login(owner.user)
    body = client.get(run_url(with_content)).content.decode()
    assert "&quot;content&quot;: &quot;hello&quot;" in body  # indented JSON, escaped
    assert "<pre" in body
    assert "&quot;EMAIL&quot;: 1" in body
    assert owner.key.display_prefix in body
    body = client.get(run_url(without)).content.decode()
    assert "hello" not in body


def test_filters_narrow_the_list_and_the_totals(client, owner, member):
    now = dt.datetime.now(tz=dt.UTC)
    old = now - dt.timedelta(days=3)
    runs = ingest(
        call_record(owner, model="gpt-4o"),
        call_record(
            owner,
            model="claude-sonnet-4-5",
            status="blocked",
            http_status=402,
            policy_results={"violated": [{"id": 1, "name": "cap"}]},
        ),
        call_record(member, model="gpt-4o", started_at=old.timestamp(), ended_at=None),
    )
    client.force_login(owner.user)

    def shown(query: str) -> set[int]:
        response = client.get(LIST_URL + query)
        assert response.status_code == 200, query
        assert response.context["run_totals"]["calls"] == len(response.context["cl"].result_list)
        return {r.pk for r in response.context["cl"].result_list}

    assert shown("?period=all") == {r.pk for r in runs}
    assert shown("") == {runs[0].pk, runs[1].pk}  # the default window is the last 24 hours
    assert shown("?model=gpt-4o&period=all") == {runs[0].pk, runs[2].pk}
    assert shown("?model=gpt-4o") == {runs[0].pk}
    assert shown("?status__exact=blocked") == {runs[1].pk}
    assert shown("?policy_outcome__exact=blocked") == {runs[1].pk}
    assert shown(f"?key={member.key.pk}&period=7d") == {runs[2].pk}
    assert shown(f"?user={owner.user.pk}") == {runs[0].pk, runs[1].pk}
    assert shown("?period=24h") == {runs[0].pk, runs[1].pk}
    until = (now - dt.timedelta(days=1)).isoformat()
    assert shown(f"?until={until}".replace("+", "%2B")) == {runs[2].pk}
    project = TracingProject.objects.get(workspace=owner.workspace)
    assert shown(f"?project={project.pk}&period=all") == {r.pk for r in runs}
    assert "e=1" in client.get(LIST_URL + "?period=forever").url
    assert "e=1" in client.get(LIST_URL + "?since=yesterday").url


def test_runs_are_read_only(client, owner):
    run = ingest(call_record(owner))[0]
    client.force_login(owner.user)
    assert client.post(run_url(run), {"model": "changed"}).status_code == 403
    assert client.get(LIST_URL + "add/").status_code == 403
    assert client.post(reverse("admin:tracing_run_delete", args=[run.pk])).status_code == 403
    run.refresh_from_db()
    assert run.model == "gpt-4o-mini"


def test_the_project_page_links_to_its_runs(client, owner):
    ingest(call_record(owner, project_name="agents"))
    client.force_login(owner.user)
    response = client.get("/admin/tracing/tracingproject/")
    project = TracingProject.objects.get(name="agents")
    assert f'?project={project.pk}"' in response.content.decode()


def test_the_run_page_names_the_caller_and_folds_the_content(client, owner):
    owner.workspace.trace_content = True
    owner.workspace.save()
    run = ingest(call_record(owner))[0]
    client.force_login(owner.user)
    body = client.get(run_url(run)).content.decode()
    assert f"{owner.organization.name} (acme)" in body and "acme/main" in body
    key_url = reverse("admin:orgs_servicekey_change", args=[owner.key.pk])
    assert key_url in body and owner.key.name in body
    assert "<details><summary>Show (" in body  # request and response fold
    assert f">{owner.organization.pk}<" not in body  # no bare ids
