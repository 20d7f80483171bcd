from __future__ import annotations

from orgs.models import AuditLogEntry


def actions(response):
    return [e["action"] for e in response.json()["results"]]


def test_org_admin_sees_organization_entries(owner, as_org_admin, enterprise):
    response = as_org_admin.get("/api/v1/audit-log/")
    assert response.status_code == 200
    assert "organization.update" in actions(response)


def test_workspace_manager_sees_only_workspace_entries(owner, outsider, api):
    response = api.get("/api/v1/audit-log/")
    assert response.status_code == 200
    entries = response.json()["results"]
    assert entries
    assert {e["workspace"] for e in entries} == {owner.workspace.pk}


def test_member_without_manage_sees_nothing_and_gets_403_on_the_filter(owner, member, as_member):
    assert as_member.get("/api/v1/audit-log/").json()["results"] == []
    response = as_member.get(f"/api/v1/audit-log/?workspace={owner.workspace.pk}")
    assert response.status_code == 403


def test_outsider_gets_404_on_filters_and_no_entries(owner, outsider, as_outsider):
    assert as_outsider.get(f"/api/v1/audit-log/?workspace={owner.workspace.pk}").status_code == 404
    assert (
        as_outsider.get(f"/api/v1/audit-log/?organization={owner.organization.pk}").status_code
        == 404
    )
    ids = {e["workspace"] for e in as_outsider.get("/api/v1/audit-log/").json()["results"]}
    assert owner.workspace.pk not in ids


def test_it_pages_with_a_cursor(owner, api):
    from orgs.services import audit_record

    for i in range(7):
        audit_record(
            action="test.page",
            obj=owner.workspace,
            organization=owner.organization,
            workspace=owner.workspace,
            after={"i": i},
        )
    seen = []
    url = "/api/v1/audit-log/?action=test.page&limit=3"
    while url:
        page = api.get(url).json()
        seen += [e["after"]["i"] for e in page["results"]]
        url = page["next"]
    assert seen == [6, 5, 4, 3, 2, 1, 0]
    assert api.get("/api/v1/audit-log/?limit=0").status_code == 400
    assert AuditLogEntry.objects.filter(action="test.page").count() == 7
