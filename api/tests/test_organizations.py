from __future__ import annotations

from api.tests.conftest import detail, session_client
from orgs.models import AuditLogEntry, Organization


def url(org):
    return f"/api/v1/organizations/{org.pk}/"


def test_it_lists_only_visible_organizations(owner, outsider, api, as_outsider):
    assert [o["slug"] for o in api.get("/api/v1/organizations/").json()] == ["acme"]
    assert [o["slug"] for o in as_outsider.get("/api/v1/organizations/").json()] == ["other"]


def test_it_reads_one(owner, api):
    response = api.get(url(owner.organization))
    assert response.status_code == 200
    assert response.json()["llm_gateway_enabled"] is True


def test_outsider_gets_404(owner, as_outsider):
    assert as_outsider.get(url(owner.organization)).status_code == 404
    assert (
        as_outsider.patch(url(owner.organization), {"name": "x"}, format="json").status_code == 404
    )


def test_rename_needs_organization_manage(owner, api, as_org_admin):
    response = api.patch(url(owner.organization), {"name": "Acme"}, format="json")
    assert response.status_code == 403
    assert "organization:manage" in detail(response)
    response = as_org_admin.patch(url(owner.organization), {"name": "Acme Inc"}, format="json")
    assert response.status_code == 200
    assert response.json()["name"] == "Acme Inc"


def test_the_gateway_flag_is_superuser_only(owner, as_org_admin):
    response = as_org_admin.patch(
        url(owner.organization), {"llm_gateway_enabled": False}, format="json"
    )
    assert response.status_code == 403
    assert "superuser" in detail(response)
    assert Organization.objects.get(pk=owner.organization.pk).llm_gateway_enabled is True
    owner.user.is_superuser = True
    owner.user.save()
    response = session_client(owner).patch(
        url(owner.organization), {"llm_gateway_enabled": False}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["llm_gateway_enabled"] is False
    entry = AuditLogEntry.objects.filter(action="organization.update").latest("id")
    assert entry.after["llm_gateway_enabled"] is False
    assert entry.actor == owner.user


def test_a_superusers_personal_token_cannot_flip_the_flag(owner):
    from api.tests.conftest import key_client
    from orgs.services import api_key_create

    owner.user.is_superuser = True
    owner.user.save()
    token = api_key_create(
        organization=owner.organization, workspace=owner.workspace, kind="personal", user=owner.user
    )
    response = key_client(token.plaintext).patch(
        url(owner.organization), {"llm_gateway_enabled": False}, format="json"
    )
    assert response.status_code in (403, 404)


def test_invalid_input_is_400(owner, as_org_admin):
    response = as_org_admin.patch(url(owner.organization), {"plan": "gold"}, format="json")
    assert response.status_code == 400
    assert "plan" in response.json()["errors"]
