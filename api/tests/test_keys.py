from __future__ import annotations

from api.tests.conftest import detail, key_client, session_client
from orgs.models import ApiKey


def keys_url(persona):
    return f"/api/v1/workspaces/{persona.workspace.pk}/service-keys/"


def test_create_returns_the_key_once_and_lists_show_prefixes(owner, api):
    response = api.post(keys_url(owner), {"name": "ci", "role": "WORKSPACE_USER"}, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert response["Cache-Control"] == "no-store"
    plaintext = created["key"]
    assert plaintext.startswith(created["prefix"] + "_")
    listed = api.get(keys_url(owner))
    assert listed.status_code == 200
    assert created["prefix"] in {k["prefix"] for k in listed.json()}
    assert plaintext.encode() not in listed.content
    one = api.get(f"{keys_url(owner)}{created['id']}/")
    assert one.status_code == 200 and "key" not in one.json()
    assert key_client(plaintext).get("/api/v1/workspaces/").status_code == 200


def test_revoke_makes_the_key_401(owner, api):
    created = api.post(
        keys_url(owner), {"name": "tmp", "role": "WORKSPACE_VIEWER"}, format="json"
    ).json()
    response = api.delete(f"{keys_url(owner)}{created['id']}/")
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert key_client(created["key"]).get("/api/v1/workspaces/").status_code == 401


def test_member_without_workspaces_manage_is_403(owner, as_member):
    assert as_member.get(keys_url(owner)).status_code == 403
    response = as_member.post(
        keys_url(owner), {"name": "x", "role": "WORKSPACE_USER"}, format="json"
    )
    assert response.status_code == 403
    assert "workspaces:manage" in detail(response)
    assert as_member.delete(f"{keys_url(owner)}{owner.key.pk}/").status_code == 403


def test_outsider_gets_404(owner, as_outsider):
    assert as_outsider.get(keys_url(owner)).status_code == 404
    assert as_outsider.get(f"{keys_url(owner)}{owner.key.pk}/").status_code == 404
    assert as_outsider.delete(f"{keys_url(owner)}{owner.key.pk}/").status_code == 404
    assert ApiKey.objects.get(pk=owner.key.pk).revoked_at is None


def test_a_key_of_another_workspace_is_404_under_this_one(owner, outsider, api):
    assert api.get(f"{keys_url(owner)}{outsider.key.pk}/").status_code == 404


def test_bad_input_is_400(owner, api):
    response = api.post(keys_url(owner), {"name": "x", "role": "ORGANIZATION_ADMIN"}, format="json")
    assert response.status_code == 400
    response = api.post(
        keys_url(owner),
        {"name": "x", "role": "WORKSPACE_USER", "expires_at": "2001-01-01T00:00:00Z"},
        format="json",
    )
    assert response.status_code == 400
    assert "future" in detail(response)


def test_personal_tokens_belong_to_the_session_user(owner, member, outsider):
    bob = session_client(member)
    body = {"workspace": member.workspace.pk, "name": "laptop"}
    response = bob.post("/api/v1/personal-tokens/", body, format="json")
    assert response.status_code == 201, response.content
    token = response.json()
    assert token["prefix"].startswith("gw_pt_") and token["key"].startswith("gw_pt_")
    listed = bob.get("/api/v1/personal-tokens/").json()
    assert [t["prefix"] for t in listed] == [token["prefix"]]
    assert token["key"].encode() not in bob.get("/api/v1/personal-tokens/").content
    # The token acts with bob's role in his workspace: reads yes, key management no.
    as_token = key_client(token["key"])
    assert as_token.get(f"/api/v1/workspaces/{member.workspace.pk}/").status_code == 200
    assert as_token.get(keys_url(member)).status_code == 403
    # Someone else's token is invisible.
    alice = session_client(owner)
    assert alice.get(f"/api/v1/personal-tokens/{token['id']}/").status_code == 404
    assert alice.delete(f"/api/v1/personal-tokens/{token['id']}/").status_code == 404
    response = bob.delete(f"/api/v1/personal-tokens/{token['id']}/")
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert as_token.get("/api/v1/workspaces/").status_code == 401


def test_personal_tokens_outsider_and_service_keys(owner, outsider, api):
    charlie = session_client(outsider)
    body = {"workspace": owner.workspace.pk, "name": "sneaky"}
    assert charlie.post("/api/v1/personal-tokens/", body, format="json").status_code == 404
    response = api.get("/api/v1/personal-tokens/")
    assert response.status_code == 403
    assert "service key" in detail(response)


def test_personal_tokens_need_pats_create(owner, member):
    from orgs.models import OrganizationMember, Role

    OrganizationMember.objects.filter(user=member.user).update(
        role=Role.objects.get(builtin=True, name="ORGANIZATION_VIEWER")
    )
    body = {"workspace": member.workspace.pk, "name": "laptop"}
    response = session_client(member).post("/api/v1/personal-tokens/", body, format="json")
    assert response.status_code == 403
    assert "organization:pats:create" in detail(response)
