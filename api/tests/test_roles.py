from __future__ import annotations

from api.tests.conftest import detail
from orgs.models import Role


def roles_url(persona):
    return f"/api/v1/organizations/{persona.organization.pk}/roles/"


def test_it_lists_builtins_read_only(owner, api):
    response = api.get(roles_url(owner))
    assert response.status_code == 200
    builtins = {r["name"] for r in response.json() if r["builtin"]}
    assert builtins == {
        "ORGANIZATION_ADMIN",
        "ORGANIZATION_USER",
        "ORGANIZATION_VIEWER",
        "WORKSPACE_ADMIN",
        "WORKSPACE_USER",
        "WORKSPACE_VIEWER",
    }


def test_outsider_gets_404(owner, as_outsider):
    assert as_outsider.get(roles_url(owner)).status_code == 404
    body = {"name": "X", "permissions": ["runs:read"]}
    assert as_outsider.post(roles_url(owner), body, format="json").status_code == 404
    role = Role.objects.get(builtin=True, name="WORKSPACE_USER")
    assert as_outsider.get(f"{roles_url(owner)}{role.pk}/").status_code == 404


def test_another_organizations_custom_role_is_404(owner, outsider, as_org_admin):
    from orgs.services import organization_upsert, role_upsert

    other = organization_upsert(slug="other", plan="enterprise")
    role = role_upsert(organization=other, name="THEIRS", permissions=["runs:read"])
    assert as_org_admin.get(f"{roles_url(owner)}{role.pk}/").status_code == 404
    assert as_org_admin.delete(f"{roles_url(owner)}{role.pk}/").status_code == 404


def test_create_needs_organization_manage(owner, api, enterprise):
    response = api.post(
        roles_url(owner), {"name": "X", "permissions": ["runs:read"]}, format="json"
    )
    assert response.status_code == 403
    assert "organization:manage" in detail(response)


def test_custom_roles_need_the_enterprise_plan(owner, as_org_admin):
    response = as_org_admin.post(
        roles_url(owner), {"name": "X", "permissions": ["runs:read"]}, format="json"
    )
    assert response.status_code == 400
    assert "enterprise plan" in detail(response)


def test_enterprise_custom_role_lifecycle(owner, as_org_admin, enterprise):
    body = {"name": "INVOKERS", "permissions": ["gateway:invoke", "workspaces:read"]}
    response = as_org_admin.post(roles_url(owner), body, format="json")
    assert response.status_code == 201, response.content
    role_url = f"{roles_url(owner)}{response.json()['id']}/"
    assert as_org_admin.post(roles_url(owner), body, format="json").status_code == 409
    response = as_org_admin.patch(role_url, {"permissions": ["runs:read"]}, format="json")
    assert response.status_code == 200
    assert response.json()["permissions"] == ["runs:read"]
    response = as_org_admin.patch(role_url, {"permissions": ["root"]}, format="json")
    assert response.status_code == 400
    assert as_org_admin.delete(role_url).status_code == 204
    assert as_org_admin.get(role_url).status_code == 404


def test_builtin_roles_are_immutable(owner, as_org_admin, enterprise):
    role = Role.objects.get(builtin=True, name="WORKSPACE_USER")
    url = f"{roles_url(owner)}{role.pk}/"
    response = as_org_admin.patch(url, {"permissions": ["gateway:invoke"]}, format="json")
    assert response.status_code == 400
    assert "built-in" in detail(response)
    response = as_org_admin.delete(url)
    assert response.status_code == 400
    assert "built-in" in detail(response)
    body = {"name": "WORKSPACE_USER", "permissions": ["gateway:invoke"]}
    response = as_org_admin.post(roles_url(owner), body, format="json")
    assert response.status_code == 400
    assert "built-in" in detail(response)
    assert "gateway:invoke" not in Role.objects.get(pk=role.pk).permissions


def test_a_role_in_use_is_not_deleted(owner, member, as_org_admin, enterprise):
    from orgs.services import member_set, role_upsert

    role = role_upsert(organization=enterprise, name="HELD", permissions=["runs:read"])
    member_set(workspace=owner.workspace, user=member.user, role=role)
    response = as_org_admin.delete(f"{roles_url(owner)}{role.pk}/")
    assert response.status_code == 400
    assert "still held" in detail(response)
