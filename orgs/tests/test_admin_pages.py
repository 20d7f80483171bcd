"""The admin pages as users drive them (Django test client): built-in roles read-only for all,
custom roles only on enterprise, the gateway flag superuser-only, write-only provider secrets,
service keys shown once, revocation, memberships, a read-only audit log."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from orgs import services
from orgs.models import ApiKey, AuditLogEntry, Organization, Role, WorkspaceMember
from secrets_vault.models import ProviderSecret

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@x.test", "pw-root-123")
    client.force_login(user)
    return user


def login(client, persona):
    client.force_login(persona.user)
    return client


def test_builtin_roles_cannot_be_changed_or_deleted_even_by_a_superuser(client, root):
    role = Role.objects.get(name="WORKSPACE_USER")
    change = reverse("admin:orgs_role_change", args=[role.pk])
    page = client.get(change)
    assert page.status_code == 200 and b'name="_save"' not in page.content
    response = client.post(change, {"name": "WORKSPACE_USER", "permissions": ["gateway:invoke"]})
    assert response.status_code == 403
    assert (
        client.post(reverse("admin:orgs_role_delete", args=[role.pk]), {"post": "yes"}).status_code
        == 403
    )
    response = client.post(
        reverse("admin:orgs_role_changelist"),
        {"action": "delete_selected", "_selected_action": [role.pk], "post": "yes"},
    )
    assert Role.objects.get(pk=role.pk).permissions == [
        "projects:read",
        "runs:read",
        "workspaces:read",
    ]
    assert Role.objects.filter(builtin=True).count() == 6


def test_custom_role_refused_on_basic_plan_then_created_on_enterprise(client, org_admin):
    login(client, org_admin)
    add_page = client.get(reverse("admin:orgs_role_add")).content.decode()
    assert "Custom roles need the enterprise plan" in add_page
    data = {
        "organization": org_admin.organization.pk,
        "name": "Invokers",
        "description": "",
        "permissions": ["gateway:invoke", "workspaces:read"],
    }
    response = client.post(reverse("admin:orgs_role_add"), data)
    assert response.status_code == 200
    assert "Custom roles need the enterprise plan" in response.content.decode()
    assert not Role.objects.filter(name="Invokers").exists()
    services.organization_upsert(slug="acme", plan="enterprise")
    response = client.post(reverse("admin:orgs_role_add"), data)
    assert response.status_code == 302
    role = Role.objects.get(name="Invokers")
    assert role.permissions == ["gateway:invoke", "workspaces:read"] and not role.builtin
    assert AuditLogEntry.objects.filter(action="role.create", actor=org_admin.user).exists()
    response = client.post(reverse("admin:orgs_role_delete", args=[role.pk]), {"post": "yes"})
    assert response.status_code == 302 and not Role.objects.filter(name="Invokers").exists()


def test_gateway_flag_is_read_only_for_everyone_but_a_superuser(
    client, org_admin, django_user_model
):
    org = org_admin.organization
    url = reverse("admin:orgs_organization_change", args=[org.pk])
    login(client, org_admin)
    page = client.get(url)
    assert page.status_code == 200 and b'name="llm_gateway_enabled"' not in page.content
    client.post(url, {"name": "Acme Inc", "plan": "enterprise"})  # flag omitted = "off"
    org.refresh_from_db()
    assert (org.name, org.plan, org.llm_gateway_enabled) == ("Acme Inc", "basic", True)
    root = django_user_model.objects.create_superuser("root", "root@x.test", "pw")
    client.force_login(root)
    response = client.post(url, {"name": "Acme Inc", "plan": "basic"})
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.llm_gateway_enabled is False
    entry = AuditLogEntry.objects.filter(action="organization.update").latest("id")
    assert entry.actor == root and entry.after["llm_gateway_enabled"] is False


def test_provider_secret_form_is_write_only(client, owner):
    login(client, owner)
    value = "sk-proj-AdminFormValue-9zQ1"
    response = client.post(
        reverse("admin:secrets_vault_providersecret_add"),
        {"workspace": owner.workspace.pk, "name": "OPENAI_API_KEY", "value": value, "base_url": ""},
    )
    assert response.status_code == 302
    secret = ProviderSecret.objects.get()
    change = reverse("admin:secrets_vault_providersecret_change", args=[secret.pk])
    pages = [
        client.get(reverse("admin:secrets_vault_providersecret_changelist")),
        client.get(change),
    ]
    for page in pages:
        html = page.content.decode()
        assert value not in html and value[:-4] not in html
        assert "••••9zQ1" in html
    assert 'type="password"' in pages[1].content.decode()
    # An empty value keeps the stored one; a refused base URL is a form error with the value blank.
    response = client.post(change, {"value": "", "base_url": "http://10.0.0.1"})
    html = response.content.decode()
    assert response.status_code == 200 and "only a superuser" in html
    response = client.post(change, {"value": "sk-second-value-2222", "base_url": "http://10.0.0.1"})
    assert "sk-second-value-2222" not in response.content.decode()
    secret.refresh_from_db()
    assert secret.last4 == "9zQ1" and secret.base_url == ""


def test_service_key_is_shown_once_then_only_its_prefix(client, owner):
    login(client, owner)
    role = Role.objects.get(name="WORKSPACE_ADMIN")
    response = client.post(
        reverse("admin:orgs_servicekey_add"),
        {
            "name": "ci bot",
            "workspace": owner.workspace.pk,
            "role": role.pk,
            "assignee": "",
            "expires_at_0": "",
            "expires_at_1": "",
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    match = re.search(r"gw_sk_[a-z0-9]{12}_[a-z0-9]{40}", html)
    assert match is not None and "shown only once" in html
    plaintext = match.group(0)
    key = services.api_key_authenticate(plaintext)
    assert key is not None and key.name == "ci bot" and key.created_by == owner.user
    for url in (
        reverse("admin:orgs_servicekey_changelist"),
        reverse("admin:orgs_servicekey_change", args=[key.pk]),
    ):
        page = client.get(url).content.decode()
        assert key.display_prefix in page and plaintext not in page
        assert plaintext.rsplit("_", 1)[1] not in page


def test_service_key_form_refuses_a_past_expiry_and_foreign_assignee(client, owner, outsider):
    login(client, owner)
    role = Role.objects.get(name="WORKSPACE_ADMIN")
    base = {"name": "x", "workspace": owner.workspace.pk, "role": role.pk}
    response = client.post(
        reverse("admin:orgs_servicekey_add"),
        {**base, "assignee": "", "expires_at_0": "2001-01-01", "expires_at_1": "00:00:00"},
    )
    assert "expiry must be in the future" in response.content.decode()
    response = client.post(
        reverse("admin:orgs_servicekey_add"),
        {**base, "assignee": outsider.user.email, "expires_at_0": "", "expires_at_1": ""},
    )
    assert "is not a member of acme" in response.content.decode()
    assert ApiKey.objects.count() == 2


def test_revoke_action_and_personal_tokens_listed(client, owner, member):
    login(client, owner)
    response = client.post(
        reverse("admin:orgs_servicekey_changelist"),
        {"action": "revoke_keys", "_selected_action": [member.key.pk]},
    )
    assert response.status_code == 302
    assert services.api_key_authenticate(member.plaintext_key) is None
    token = services.api_key_create(
        organization=owner.organization,
        workspace=owner.workspace,
        kind="personal",
        user=owner.user,
        name="laptop",
    )
    page = client.get(reverse("admin:orgs_personalaccesstoken_changelist")).content.decode()
    assert token.api_key.display_prefix in page and token.plaintext not in page
    assert member.key.display_prefix not in page  # service keys are not tokens


def test_workspace_admin_adds_a_member_by_email(client, owner):
    login(client, owner)
    response = client.post(
        reverse("admin:orgs_workspacemember_add"),
        {
            "email": "New@Acme.test",
            "workspace": owner.workspace.pk,
            "role": Role.objects.get(name="WORKSPACE_VIEWER").pk,
        },
    )
    assert response.status_code == 302
    member = WorkspaceMember.objects.get(user__email="new@acme.test")
    assert member.role.name == "WORKSPACE_VIEWER"
    assert AuditLogEntry.objects.filter(action="member.create", actor=owner.user).exists()
    response = client.post(
        reverse("admin:orgs_workspacemember_delete", args=[member.pk]), {"post": "yes"}
    )
    assert response.status_code == 302 and not WorkspaceMember.objects.filter(pk=member.pk).exists()


def test_audit_log_is_read_only(client, owner, root):
    entry = AuditLogEntry.objects.first()
    assert client.get(reverse("admin:orgs_auditlogentry_add")).status_code == 403
    change = reverse("admin:orgs_auditlogentry_change", args=[entry.pk])
    assert client.get(change).status_code == 200
    assert client.post(change, {"action": "forged"}).status_code == 403
    assert (
        client.post(
            reverse("admin:orgs_auditlogentry_delete", args=[entry.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert AuditLogEntry.objects.get(pk=entry.pk).action == entry.action


def test_only_a_superuser_adds_organizations(client, org_admin):
    login(client, org_admin)
    assert client.get(reverse("admin:orgs_organization_add")).status_code == 403
    assert not Organization.objects.filter(slug="new").exists()


def test_cloud_provider_secrets_through_the_admin_form(client, owner):
    """A service account key file pasted into the (single-line) value field: a browser drops
    its line breaks, which leaves valid JSON; a bad region is a form error."""
    import json

    from devtools.fake_formats_cloud import fake_service_account

    login(client, owner)
    add = reverse("admin:secrets_vault_providersecret_add")
    pasted = json.dumps(fake_service_account("https://oauth2.googleapis.com/token"), indent=2)
    response = client.post(
        add,
        {
            "workspace": owner.workspace.pk,
            "name": "VERTEX_SERVICE_ACCOUNT_JSON",
            "value": pasted.replace("\n", ""),
            "base_url": "",
        },
    )
    assert response.status_code == 302
    listing = client.get(reverse("admin:secrets_vault_providersecret_changelist")).content
    assert b"\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2beef" in listing  # ••••beef
    assert b"PRIVATE KEY" not in listing
    response = client.post(
        add,
        {"workspace": owner.workspace.pk, "name": "AWS_REGION", "value": "Ireland", "base_url": ""},
    )
    assert response.status_code == 200
    assert "AWS_REGION must be an AWS region name" in response.content.decode()
