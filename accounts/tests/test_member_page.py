"""My account: a member sees their workspaces and roles, creates a personal token (shown
once, agent files with the key filled in), and revokes only their own tokens."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from django.urls import reverse

from orgs import services
from orgs.models import ApiKey, Role

pytestmark = pytest.mark.django_db


def test_the_page_lists_workspaces_roles_and_why_a_role_cannot_call(client, member):
    client.force_login(member.user)
    page = client.get(reverse("accounts:me")).content.decode()
    assert "acme/main" in page and "WORKSPACE_USER" in page
    assert "its role lacks gateway:invoke" in page


def test_a_member_creates_a_token_sees_it_once_and_downloads_agent_files(client, owner):
    client.force_login(owner.user)
    response = client.post(
        reverse("accounts:token-create"),
        {"workspace": owner.workspace.pk, "name": "laptop", "expires_days": "30"},
    )
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    html = response.content.decode()
    plaintext = re.search(r'value="(gw_pt_[a-z0-9_]+)"', html).group(1)
    token = services.api_key_authenticate(plaintext)
    assert token.kind == ApiKey.Kind.PERSONAL and token.user == owner.user
    assert token.expires_at is not None
    listing = client.get(reverse("accounts:me")).content.decode()
    assert token.display_prefix in listing and plaintext not in listing

    download = client.post(
        reverse("rollout:agent-config-with-key"), {"key": plaintext, "agent": "claude-code"}
    )
    assert download.status_code == 200 and "no-store" in download["Cache-Control"]
    files = zipfile.ZipFile(io.BytesIO(download.content))
    settings_json = next(n for n in files.namelist() if n.endswith(".json"))
    assert plaintext in files.read(settings_json).decode()


def test_another_users_key_cannot_be_turned_into_agent_files(client, owner, outsider):
    client.force_login(owner.user)
    response = client.post(
        reverse("rollout:agent-config-with-key"),
        {"key": outsider.plaintext_key, "agent": "codex"},
    )
    assert response.status_code == 404


def test_a_token_for_a_role_without_gateway_access_is_created_with_a_warning(client, member):
    client.force_login(member.user)
    response = client.post(reverse("accounts:token-create"), {"workspace": member.workspace.pk})
    assert "cannot call the gateway yet: its role lacks gateway:invoke" in response.content.decode()


def test_only_workspaces_of_the_member_are_offered(client, owner, outsider):
    client.force_login(owner.user)
    response = client.post(reverse("accounts:token-create"), {"workspace": outsider.workspace.pk})
    assert response.status_code == 200
    assert not ApiKey.objects.filter(user=owner.user, workspace=outsider.workspace).exists()
    assert "Select a valid choice" in response.content.decode()


def test_a_viewer_without_pats_permission_is_told(client, owner):
    user = services.user_get_or_create(email="viewer@acme.test")
    services.member_set(
        workspace=owner.workspace,
        user=user,
        role=Role.objects.get(name="WORKSPACE_USER"),
        org_role=Role.objects.get(name="ORGANIZATION_VIEWER"),
    )
    client.force_login(user)
    page = client.get(reverse("accounts:me")).content.decode()
    assert "organization:pats:create" in page and 'id="create-token"' not in page


def test_revoking_asks_first_and_touches_only_own_tokens(client, owner, member):
    created = services.api_key_create(
        organization=owner.organization,
        workspace=owner.workspace,
        kind=ApiKey.Kind.PERSONAL,
        user=member.user,
    )
    mine = created.api_key
    client.force_login(member.user)
    url = reverse("accounts:token-revoke", args=[mine.pk])
    confirm = client.get(url)
    assert confirm.status_code == 200 and "cannot be undone" in confirm.content.decode()
    mine.refresh_from_db()
    assert mine.revoked_at is None
    assert client.post(url).status_code == 302
    mine.refresh_from_db()
    assert mine.revoked_at is not None
    theirs = services.api_key_create(
        organization=owner.organization,
        workspace=owner.workspace,
        kind=ApiKey.Kind.PERSONAL,
        user=owner.user,
    ).api_key
    assert client.post(reverse("accounts:token-revoke", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_anonymous_visitors_are_sent_to_sign_in(client, owner):
    response = client.get(reverse("accounts:me"))
    assert response.status_code == 302 and reverse("admin:login") in response["Location"]
