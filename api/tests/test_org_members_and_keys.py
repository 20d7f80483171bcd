from __future__ import annotations

from api.tests.conftest import detail, key_client
from orgs.models import AuditLogEntry, OrganizationMember, WorkspaceMember


def members_url(persona, user_id=None):
    base = f"/api/v1/organizations/{persona.organization.pk}/members/"
    return f"{base}{user_id}/" if user_id else base


def keys_url(persona, key_id=None):
    base = f"/api/v1/organizations/{persona.organization.pk}/service-keys/"
    return f"{base}{key_id}/" if key_id else base


def test_org_admin_manages_organization_members(org_admin, member, as_org_admin):
    listed = as_org_admin.get(members_url(org_admin)).json()
    assert {m["email"]: m["role"] for m in listed} == {
        "alice@acme.test": "ORGANIZATION_ADMIN",
        "bob@acme.test": "ORGANIZATION_USER",
    }
    response = as_org_admin.put(
        members_url(org_admin, member.user.pk), {"role": "ORGANIZATION_VIEWER"}, format="json"
    )
    assert response.status_code == 200 and response.json()["role"] == "ORGANIZATION_VIEWER"
    response = as_org_admin.post(
        members_url(org_admin),
        {"email": "eve@acme.test", "role": "ORGANIZATION_USER"},
        format="json",
    )
    assert response.status_code == 200
    response = as_org_admin.put(
        members_url(org_admin, member.user.pk), {"role": "WORKSPACE_ADMIN"}, format="json"
    )
    assert response.status_code == 400
    assert as_org_admin.delete(members_url(org_admin, member.user.pk)).status_code == 204
    assert not OrganizationMember.objects.filter(user=member.user).exists()
    assert not WorkspaceMember.objects.filter(user=member.user).exists()
    assert AuditLogEntry.objects.filter(action="org_member.delete").exists()


def test_org_members_need_read_and_manage(owner, member):
    from api.tests.conftest import session_client

    bob = session_client(member)  # ORGANIZATION_USER: organization:read, not manage
    assert bob.get(members_url(owner)).status_code == 200
    response = bob.put(
        members_url(owner, owner.user.pk), {"role": "ORGANIZATION_VIEWER"}, format="json"
    )
    assert response.status_code == 403
    assert "organization:manage" in detail(response)
    assert bob.delete(members_url(owner, owner.user.pk)).status_code == 403
    # A workspace key has no organization permissions at all.
    assert key_client(owner.plaintext_key).get(members_url(owner)).status_code == 403


def test_outsider_gets_404_on_org_members_and_keys(owner, member, as_outsider):
    assert as_outsider.get(members_url(owner)).status_code == 404
    assert as_outsider.delete(members_url(owner, member.user.pk)).status_code == 404
    assert as_outsider.get(keys_url(owner)).status_code == 404
    body = {"name": "x", "role": "ORGANIZATION_ADMIN"}
    assert as_outsider.post(keys_url(owner), body, format="json").status_code == 404
    assert OrganizationMember.objects.filter(user=member.user).exists()


def test_org_service_keys(owner, as_org_admin, api):
    response = as_org_admin.post(
        keys_url(owner), {"name": "terraform", "role": "ORGANIZATION_ADMIN"}, format="json"
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["workspace"] is None and created["key"].startswith("gw_sk_")
    automation = key_client(created["key"])
    assert (
        automation.get(f"/api/v1/organizations/{owner.organization.pk}/spend-limits/").status_code
        == 200
    )
    listed = as_org_admin.get(keys_url(owner)).json()
    assert [k["prefix"] for k in listed] == [created["prefix"]]
    assert created["key"].encode() not in as_org_admin.get(keys_url(owner)).content
    # A workspace key is not listed here, and cannot reach org keys.
    assert as_org_admin.get(keys_url(owner, owner.key.pk)).status_code == 404
    assert api.get(keys_url(owner)).status_code == 403
    assert (
        as_org_admin.post(keys_url(owner), {"name": "x", "role": "NOPE"}, format="json").status_code
        == 400
    )
    response = as_org_admin.delete(keys_url(owner, created["id"]))
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert automation.get("/api/v1/organizations/").status_code == 401
