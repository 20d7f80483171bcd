from __future__ import annotations

import io
import json
import tomllib
import zipfile

import pytest
from django.test import Client

from orgs import services
from orgs.models import Role
from rollout.agent_config import KEY_PLACEHOLDER


def login(client: Client, persona) -> Client:
    client.force_login(persona.user)
    return client


def url(key_id: int, agent: str | None = None) -> str:
    return f"/admin/rollout/agent-config/{key_id}/" + (f"{agent}/" if agent else "")


def unzip(response) -> dict[str, str]:
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    return {name: archive.read(name).decode() for name in archive.namelist()}


def test_it_lists_the_agents_for_a_workspace_admin(client, owner):
    response = login(client, owner).get(url(owner.key.pk))
    assert response.status_code == 200
    text = response.content.decode()
    for label in ("Claude Code", "Codex", "Gemini CLI", "SDK environment"):
        assert label in text
    assert "/etc/claude-code/managed-settings.json" in text
    assert owner.plaintext_key not in text


def test_it_downloads_claude_code_settings_with_a_placeholder(client, owner):
    response = login(client, owner).get(url(owner.key.pk, "claude-code"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    files = unzip(response)
    settings = json.loads(files["settings.json"])
    assert settings["env"]["ANTHROPIC_BASE_URL"] == "http://testserver/anthropic"
    assert settings["env"]["ANTHROPIC_API_KEY"] == KEY_PLACEHOLDER
    assert "~/.claude/settings.json" in files["README.txt"]
    assert owner.plaintext_key not in response.content.decode("latin-1")


def test_it_downloads_managed_codex_config_with_models_and_base_url(client, owner):
    response = login(client, owner).get(
        url(owner.key.pk, "codex"),
        {"managed": "1", "models": "gpt-5-codex", "base_url": "https://gw.example.com"},
    )
    files = unzip(response)
    config = tomllib.loads(files["managed_config.toml"])
    provider = config["model_providers"][config["model_provider"]]
    assert provider["base_url"] == "https://gw.example.com/openai/v1"
    assert provider["wire_api"] == "responses"
    assert config["model"] == "gpt-5-codex"
    assert KEY_PLACEHOLDER in files["codex.env.sh"]


def test_a_bad_base_url_is_a_clear_400(client, owner):
    response = login(client, owner).get(url(owner.key.pk, "env"), {"base_url": "gw.example.com"})
    assert response.status_code == 400
    assert b"http(s) URL" in response.content


def test_an_unknown_agent_is_404(client, owner):
    assert login(client, owner).get(url(owner.key.pk, "cursor")).status_code == 404


def test_an_outsider_gets_404_for_another_organizations_key(client, owner, outsider):
    login(client, outsider)
    assert client.get(url(owner.key.pk)).status_code == 404
    assert client.get(url(owner.key.pk, "claude-code")).status_code == 404


def test_a_member_without_workspaces_manage_gets_404(client, owner, member):
    login(client, member)
    assert client.get(url(owner.key.pk)).status_code == 404
    assert client.get(url(owner.key.pk, "codex")).status_code == 404


def test_a_missing_key_id_is_404(client, owner):
    assert login(client, owner).get(url(999999, "env")).status_code == 404


def test_anonymous_users_are_sent_to_the_login_page(client, owner):
    response = client.get(url(owner.key.pk, "env"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_an_organization_scoped_key_is_refused_with_an_explanation(client, owner):
    org_admin_role = Role.objects.get(builtin=True, name="ORGANIZATION_ADMIN")
    created = services.api_key_create(
        organization=owner.organization, workspace=None, role=org_admin_role, name="org key"
    )
    owner.user.is_superuser = True
    owner.user.save()
    response = login(client, owner).get(url(created.api_key.pk, "env"))
    assert response.status_code == 400
    assert b"workspace-scoped" in response.content


def test_the_service_key_page_links_to_the_download(client, owner):
    response = login(client, owner).get(f"/admin/orgs/servicekey/{owner.key.pk}/change/")
    assert response.status_code == 200
    assert url(owner.key.pk).encode() in response.content
