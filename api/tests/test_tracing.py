from __future__ import annotations

import time
import uuid

from api.tests.conftest import detail, key_client
from hotpath.callrecord import CallRecord
from tracing.services import runs_ingest


def record(persona, **fields):
    base = dict(
        run_id=uuid.uuid4().hex,
        trace_id=uuid.uuid4().hex,
        started_at=time.time() - 60,
        organization_id=persona.organization.pk,
        workspace_id=persona.workspace.pk,
        key_id=persona.key.pk,
        key_prefix=persona.key.display_prefix,
        user_id=persona.user.pk,
        name="ChatCompletions",
        dialect="openai",
        provider="openai",
        model="gpt-4o-mini",
        input_tokens=10,
        output_tokens=5,
        cost_usd=0.001,
    )
    base.update(fields)
    return CallRecord(**base)


def runs_url(persona):
    return f"/api/v1/workspaces/{persona.workspace.pk}/runs/"


def test_owner_lists_projects_and_runs_with_filters(owner, outsider, api):
    records = [
        record(owner, model="gpt-4o-mini", started_at=time.time() - 300),
        record(
            owner,
            model="claude-sonnet-4-5",
            status="error",
            http_status=500,
            started_at=time.time() - 200,
        ),
        record(owner, model="gpt-4o-mini", project_name="batch", started_at=time.time() - 100),
        record(outsider),
    ]
    runs_ingest(records)
    projects = api.get(f"/api/v1/workspaces/{owner.workspace.pk}/projects/").json()
    assert sorted(p["name"] for p in projects) == ["batch", "gateway"]
    page = api.get(runs_url(owner)).json()
    assert [r["model"] for r in page["results"]] == [
        "gpt-4o-mini",
        "claude-sonnet-4-5",
        "gpt-4o-mini",
    ]
    assert api.get(runs_url(owner) + "?status=error").json()["results"][0]["http_status"] == 500
    assert len(api.get(runs_url(owner) + "?model=gpt-4o-mini").json()["results"]) == 2
    batch = next(p for p in projects if p["name"] == "batch")
    assert len(api.get(runs_url(owner) + f"?project={batch['id']}").json()["results"]) == 1
    assert (
        len(
            api.get(runs_url(owner) + f"?key={owner.key.pk}&user={owner.user.pk}").json()["results"]
        )
        == 3
    )
    assert api.get(runs_url(owner) + "?status=weird").status_code == 400
    assert len(api.get(runs_url(owner) + "?period=1h").json()["results"]) == 3
    runs_ingest([record(owner, started_at=time.time() - 7200)])
    assert len(api.get(runs_url(owner) + "?period=1h").json()["results"]) == 3
    assert len(api.get(runs_url(owner) + "?period=24h").json()["results"]) == 4


def test_it_pages_runs_with_a_cursor(owner, api):
    now = time.time()
    runs_ingest([record(owner, started_at=now - i) for i in range(5)])
    seen, url = [], runs_url(owner) + "?limit=2"
    while url:
        page = api.get(url).json()
        seen += [r["run_id"] for r in page["results"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) == 5


def test_one_run_and_its_outsider_404(owner, outsider, api, as_outsider):
    rec = record(owner)
    runs_ingest([rec])
    url = f"{runs_url(owner)}{uuid.UUID(rec.run_id)}/"
    response = api.get(url)
    assert response.status_code == 200
    assert response.json()["trace_id"] == rec.trace_id
    assert response.json()["key_prefix"] == owner.key.display_prefix
    assert api.get(f"{runs_url(owner)}{rec.run_id}/").json()["trace_id"] == rec.trace_id  # 32-hex
    assert api.get(f"{runs_url(owner)}not-a-uuid/").status_code == 404
    assert as_outsider.get(url).status_code == 404
    assert as_outsider.get(runs_url(owner)).status_code == 404
    # The outsider's own workspace id with the owner's run id is 404 too.
    assert as_outsider.get(f"{runs_url(outsider)}{uuid.UUID(rec.run_id)}/").status_code == 404


def test_runs_need_projects_and_runs_read(owner, invoker_key):
    client = key_client(invoker_key)
    response = client.get(runs_url(owner))
    assert response.status_code == 403
    assert "projects:read" in detail(response)
    assert client.get(f"/api/v1/workspaces/{owner.workspace.pk}/projects/").status_code == 403


def test_readonly_member_reads_runs(owner, readonly_member, as_readonly):
    runs_ingest([record(owner)])
    assert len(as_readonly.get(runs_url(owner)).json()["results"]) == 1
