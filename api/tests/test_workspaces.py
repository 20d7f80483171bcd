from __future__ import annotations

from api.tests.conftest import detail, key_client


def test_owner_lists_and_reads(owner, outsider, api):
    assert [w["slug"] for w in api.get("/api/v1/workspaces/").json()] == ["main"]
    response = api.get(f"/api/v1/workspaces/{owner.workspace.pk}/")
    assert response.status_code == 200
    assert response.json()["organization_slug"] == "acme"


def test_a_workspace_without_workspaces_read_is_403(owner, invoker_key):
    response = key_client(invoker_key).get(f"/api/v1/workspaces/{owner.workspace.pk}/")
    assert response.status_code == 403
    assert "workspaces:read" in detail(response)
    assert key_client(invoker_key).get("/api/v1/workspaces/").json() == []


def test_outsider_gets_404(owner, as_outsider):
    assert as_outsider.get(f"/api/v1/workspaces/{owner.workspace.pk}/").status_code == 404
    response = as_outsider.patch(
        f"/api/v1/workspaces/{owner.workspace.pk}/", {"name": "x"}, format="json"
    )
    assert response.status_code == 404
    assert [w["slug"] for w in as_outsider.get("/api/v1/workspaces/").json()] == ["main"]
    assert as_outsider.get(f"/api/v1/workspaces/?organization={owner.organization.pk}").json() == []


def test_update_needs_workspaces_manage(owner, member, api, as_member):
    url = f"/api/v1/workspaces/{owner.workspace.pk}/"
    response = as_member.patch(url, {"trace_content": True}, format="json")
    assert response.status_code == 403
    response = api.patch(url, {"trace_content": True}, format="json")
    assert response.status_code == 200
    assert response.json()["trace_content"] is True


def test_create_needs_organization_manage(owner, outsider, api, as_org_admin, as_outsider):
    body = {"organization": owner.organization.pk, "slug": "research", "name": "Research"}
    response = api.post("/api/v1/workspaces/", body, format="json")
    assert response.status_code == 403
    assert "organization:manage" in detail(response)
    assert as_outsider.post("/api/v1/workspaces/", body, format="json").status_code == 404
    response = as_org_admin.post("/api/v1/workspaces/", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["slug"] == "research"
    response = as_org_admin.post("/api/v1/workspaces/", body, format="json")
    assert response.status_code == 409
    assert "already exists" in detail(response)


def test_bad_slug_is_400(owner, as_org_admin):
    body = {"organization": owner.organization.pk, "slug": "Not A Slug"}
    response = as_org_admin.post("/api/v1/workspaces/", body, format="json")
    assert response.status_code == 400
    assert "slug" in response.json()["errors"]
