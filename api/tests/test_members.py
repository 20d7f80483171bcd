from __future__ import annotations

from api.tests.conftest import detail, key_client
from orgs.models import AuditLogEntry, WorkspaceMember
from orgs.services import api_key_create, role_upsert


def members_url(persona):
    return f"/api/v1/workspaces/{persona.workspace.pk}/members/"


def test_owner_lists_members_with_roles(owner, member, api):
    response = api.get(members_url(owner))
    assert response.status_code == 200
    roles = {m["email"]: m["role"] for m in response.json()}
    assert roles == {"alice@acme.test": "WORKSPACE_ADMIN", "bob@acme.test": "WORKSPACE_USER"}


def test_list_without_workspaces_read_is_403_and_outsider_404(owner, invoker_key, as_outsider):
    assert key_client(invoker_key).get(members_url(owner)).status_code == 403
    assert as_outsider.get(members_url(owner)).status_code == 404


def test_owner_adds_sets_and_removes(owner, api):
    response = api.post(
        members_url(owner), {"email": "eve@acme.test", "role": "WORKSPACE_VIEWER"}, format="json"
    )
    assert response.status_code == 200, response.content
    user_id = response.json()["user_id"]
    url = f"{members_url(owner)}{user_id}/"
    response = api.put(url, {"role": "WORKSPACE_USER"}, format="json")
    assert response.status_code == 200
    assert response.json()["role"] == "WORKSPACE_USER"
    assert api.get(url).json()["role"] == "WORKSPACE_USER"
    assert api.delete(url).status_code == 204
    assert not WorkspaceMember.objects.filter(user_id=user_id).exists()
    assert api.get(url).status_code == 404
    actions = list(
        AuditLogEntry.objects.filter(workspace=owner.workspace).values_list("action", flat=True)
    )
    assert {"member.create", "member.update", "member.delete"} <= set(actions)


def test_member_without_manage_members_is_403(owner, member, as_member):
    url = f"{members_url(owner)}{member.user.pk}/"
    response = as_member.put(url, {"role": "WORKSPACE_ADMIN"}, format="json")
    assert response.status_code == 403
    assert "workspaces:manage-members" in detail(response)
    assert as_member.delete(url).status_code == 403
    body = {"email": "x@acme.test", "role": "WORKSPACE_ADMIN"}
    assert as_member.post(members_url(owner), body, format="json").status_code == 403


def test_outsider_cannot_touch_members(owner, member, as_outsider):
    url = f"{members_url(owner)}{member.user.pk}/"
    assert as_outsider.put(url, {"role": "WORKSPACE_ADMIN"}, format="json").status_code == 404
    assert as_outsider.delete(url).status_code == 404
    assert WorkspaceMember.objects.get(user=member.user).role.name == "WORKSPACE_USER"


def test_unknown_role_is_400(owner, member, api):
    response = api.put(f"{members_url(owner)}{member.user.pk}/", {"role": "KING"}, format="json")
    assert response.status_code == 400
    assert "KING" in detail(response)


def test_nobody_grants_more_than_they_hold(owner, member, enterprise):
    role = role_upsert(
        organization=enterprise,
        name="PEOPLE",
        permissions=["workspaces:read", "workspaces:manage-members"],
    )
    key = api_key_create(
        organization=enterprise, workspace=owner.workspace, role=role, name="hr"
    ).plaintext
    url = f"{members_url(owner)}{member.user.pk}/"
    response = key_client(key).put(url, {"role": "WORKSPACE_ADMIN"}, format="json")
    assert response.status_code == 403
    assert "gateway:invoke" in detail(response)
    assert key_client(key).put(url, {"role": "PEOPLE"}, format="json").status_code == 200
