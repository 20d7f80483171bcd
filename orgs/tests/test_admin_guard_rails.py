"""Keys and roles that cannot call the gateway say so (with the reason); a key's page has a
revoke button with confirmation; the organization page shows what the organization holds."""

from __future__ import annotations

import pytest
from django.urls import reverse

from orgs import services
from orgs.models import ApiKey, Role
from secrets_vault import services as secret_services

pytestmark = pytest.mark.django_db


def test_a_key_that_cannot_call_says_why_in_the_list(client, org_admin):
    owner = org_admin
    read_only = services.api_key_create(
        organization=owner.organization,
        workspace=owner.workspace,
        role=Role.objects.get(name="WORKSPACE_USER"),
        name="reader",
    ).api_key
    org_key = services.api_key_create(
        organization=owner.organization,
        workspace=None,
        role=Role.objects.get(name="ORGANIZATION_ADMIN"),
        name="org-wide",
    ).api_key
    client.force_login(owner.user)
    page = client.get(reverse("admin:orgs_servicekey_changelist")).content.decode()
    assert "refused: its role lacks gateway:invoke" in page
    assert "active (organization-scoped)" in page
    assert "refused: organization-scoped keys are refused" in page
    assert page.count("accepted") >= 1  # the owner's own WORKSPACE_ADMIN key
    assert read_only.display_prefix in page and org_key.display_prefix in page


def test_creating_a_key_that_cannot_call_warns(client, owner):
    client.force_login(owner.user)
    response = client.post(
        reverse("admin:orgs_servicekey_add"),
        {
            "name": "reader",
            "workspace": owner.workspace.pk,
            "role": Role.objects.get(name="WORKSPACE_USER").pk,
        },
    )
    html = response.content.decode()
    assert "cannot call the gateway" in html and "lacks gateway:invoke" in html
    assert 'id="agent-downloads"' in html  # the shown-once page offers the agent files


def test_a_role_with_invoke_but_no_read_is_flagged(client, org_admin):
    services.organization_upsert(slug="acme", plan="enterprise")
    client.force_login(org_admin.user)
    response = client.post(
        reverse("admin:orgs_role_add"),
        {
            "organization": org_admin.organization.pk,
            "name": "half",
            "description": "",
            "permissions": ["gateway:invoke"],
        },
        follow=True,
    )
    assert "cannot call the gateway: it has gateway:invoke but not workspaces:read" in (
        response.content.decode()
    )
    listing = client.get(reverse("admin:orgs_role_changelist")).content.decode()
    assert "no: it has gateway:invoke but not workspaces:read" in listing


def test_revoking_from_the_key_page_asks_first(client, owner):
    client.force_login(owner.user)
    change = reverse("admin:orgs_servicekey_change", args=[owner.key.pk])
    page = client.get(change).content.decode()
    revoke = reverse("admin:orgs_servicekey_revoke", args=[owner.key.pk])
    assert revoke in page and "Effective policies" in page and "Recent runs" in page
    confirm = client.get(revoke)
    assert confirm.status_code == 200 and "cannot be undone" in confirm.content.decode()
    owner.key.refresh_from_db()
    assert owner.key.revoked_at is None
    assert client.post(revoke).status_code == 302
    owner.key.refresh_from_db()
    assert owner.key.revoked_at is not None
    assert revoke not in client.get(change).content.decode()  # nothing left to revoke


def test_an_outsider_cannot_reach_the_revoke_page(client, owner, outsider):
    client.force_login(outsider.user)
    revoke = reverse("admin:orgs_servicekey_revoke", args=[owner.key.pk])
    assert client.get(revoke).status_code == 404
    assert client.post(revoke).status_code == 404
    assert ApiKey.objects.get(pk=owner.key.pk).revoked_at is None


def test_the_organization_page_shows_what_it_holds(client, org_admin):
    secret_services.secret_set(
        workspace=org_admin.workspace, name="OPENAI_API_KEY", value="sk-test-abcd1234"
    )
    from policies.tests.spend_helpers import policy

    policy(org_admin, "org cap", "organization", {"monthly": "100"})
    client.force_login(org_admin.user)
    page = client.get(
        reverse("admin:orgs_organization_change", args=[org_admin.organization.pk])
    ).content.decode()
    assert "OPENAI_API_KEY: set" in page and "ANTHROPIC_API_KEY: missing" in page
    assert "alice@acme.test" in page and "ORGANIZATION_ADMIN" in page
    assert "org cap" in page and "monthly: $0.0000 of $100.00" in page
    assert "Active service keys: 1" in page


def test_the_organization_page_of_another_org_is_404(client, owner, outsider):
    client.force_login(outsider.user)
    url = reverse("admin:orgs_organization_change", args=[owner.organization.pk])
    assert client.get(url).status_code == 404
