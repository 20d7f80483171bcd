"""Custom providers: the secret encrypted at rest and never in the audit log, the base URL
guard, header and name checks, the CLI (secret from stdin only), the admin form, rotation."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse

from orgs.models import AuditLogEntry
from secrets_vault import services
from secrets_vault.models import CustomProvider

pytestmark = pytest.mark.django_db

SECRET = "sk-vllm-Plaintext-Custom-Secret-8Kp2"


def _rows(table: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")
        return repr(cursor.fetchall())


def test_the_secret_is_encrypted_and_the_audit_log_keeps_no_value(owner):
    services.provider_set(
        workspace=owner.workspace,
        name="vllm",
        base_url="http://127.0.0.1:8000/v1/",
        secret=SECRET,
        extra_headers={"X-Tenant": "tenant-token-value"},
        models=["llama-3.1-8b", " qwen2.5 ", "llama-3.1-8b"],
    )
    provider = CustomProvider.objects.get()
    assert provider.base_url == "http://127.0.0.1:8000/v1" and provider.last4 == "8Kp2"
    assert provider.model_names == ["llama-3.1-8b", "qwen2.5"]
    assert services.provider_secret_decrypt(provider=provider) == SECRET
    for table in ("secrets_vault_customprovider", "orgs_auditlogentry"):
        assert SECRET not in _rows(table) and SECRET[:-4] not in _rows(table)
    entry = AuditLogEntry.objects.get(action="custom_provider.set")
    assert entry.after["header_names"] == ["X-Tenant"]
    assert "tenant-token-value" not in repr(entry.after)
    services.provider_set(workspace=owner.workspace, name="vllm", clear_secret=True)
    provider.refresh_from_db()
    assert not provider.has_secret and provider.base_url == "http://127.0.0.1:8000/v1"
    assert AuditLogEntry.objects.filter(action="custom_provider.update").count() == 1
    services.provider_delete(provider=provider)
    assert AuditLogEntry.objects.filter(action="custom_provider.delete").count() == 1


def test_the_base_url_guard_applies_to_workspace_admins(owner, settings):
    settings.GATEWAY_UPSTREAM_ALLOWED_HOSTS = ["vllm.internal"]
    with pytest.raises(PermissionDenied, match="superuser"):
        services.provider_set(
            workspace=owner.workspace,
            name="meta",
            base_url="http://169.254.169.254/latest",
            actor=owner.user,
        )
    provider = services.provider_set(
        workspace=owner.workspace, name="ok", base_url="https://vllm.internal/v1", actor=owner.user
    )
    assert provider.base_url == "https://vllm.internal/v1"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Bad Name"}, "lowercase"),
        ({"name": "-x"}, "lowercase"),
        ({"extra_headers": {"Authorization": "Bearer x"}}, "cannot be set"),
        ({"extra_headers": {"x-gateway-project": "p"}}, "gateway's own"),
        ({"extra_headers": {"X-A": "a\r\nInjected: 1"}}, "line break"),
        ({"models": ["fine", "not a model"]}, "not a model name"),
        ({"api": "grpc"}, "unknown API"),
        ({"base_url": "ftp://x"}, r"http\(s\) URL"),
        ({"secret": "has space"}, "whitespace"),
    ],
)
def test_bad_input_is_refused_clearly(owner, kwargs, message):
    args = {"workspace": owner.workspace, "name": "p1", "base_url": "http://127.0.0.1:1/v1"}
    with pytest.raises(ValidationError, match=message):
        services.provider_set(**{**args, **kwargs})
    assert not CustomProvider.objects.exists()


def test_cli_reads_the_secret_from_stdin_and_deletes(owner):
    out = io.StringIO()
    path = f"{owner.organization.slug}/{owner.workspace.slug}"
    call_command(
        "gateway_provider",
        path,
        "ollama",
        "--api",
        "openai",
        "--base-url",
        "http://127.0.0.1:11434/v1",
        "--models",
        "llama3.2,qwen2.5",
        "--header",
        "X-Team: search",
        "--secret-stdin",
        stdin=io.StringIO(SECRET + "\n"),
        stdout=out,
    )
    text = out.getvalue()
    assert SECRET not in text and "…8Kp2" in text and "/providers/ollama/v1" in text
    provider = CustomProvider.objects.get(name="ollama")
    assert provider.extra_headers == {"X-Team": "search"}
    assert provider.model_names == ["llama3.2", "qwen2.5"]
    call_command("gateway_provider", path, "ollama", "--no-secret", "--models", "", stdout=out)
    provider.refresh_from_db()
    assert not provider.has_secret and provider.model_names == []
    with pytest.raises(CommandError, match="no secret on stdin"):
        call_command("gateway_provider", path, "ollama", "--secret-stdin", stdin=io.StringIO(""))
    call_command("gateway_provider", path, "ollama", "--delete", stdout=out)
    assert not CustomProvider.objects.exists()
    with pytest.raises(CommandError, match="no custom provider"):
        call_command("gateway_provider", path, "ollama", "--delete")
    with pytest.raises(CommandError, match="needs a base URL"):
        call_command("gateway_provider", path, "new-one")


def test_rotation_covers_custom_provider_secrets(owner, settings):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.GATEWAY_SECRETS_KEYS = [old_key]
    services.provider_set(
        workspace=owner.workspace, name="a", base_url="http://127.0.0.1:1/v1", secret=SECRET
    )
    services.provider_set(workspace=owner.workspace, name="b", base_url="http://127.0.0.1:2/v1")
    settings.GATEWAY_SECRETS_KEYS = [new_key, old_key]
    call_command("gateway_rotate_secrets", stdout=io.StringIO())
    settings.GATEWAY_SECRETS_KEYS = [new_key]
    provider = CustomProvider.objects.get(name="a")
    assert services.provider_secret_decrypt(provider=provider) == SECRET
    assert CustomProvider.objects.get(name="b").ciphertext == ""


def test_admin_form_is_write_only_and_guarded(client, owner, settings):
    from orgs.tests.test_admin_pages import login

    settings.GATEWAY_UPSTREAM_ALLOWED_HOSTS = ["127.0.0.1"]
    login(client, owner)
    response = client.post(
        reverse("admin:secrets_vault_customprovider_add"),
        {
            "workspace": owner.workspace.pk,
            "name": "vllm",
            "api": "openai",
            "base_url": "http://127.0.0.1:8000/v1",
            "secret": SECRET,
            "headers_text": "X-Team: search",
            "models_text": "llama-3.1-8b, qwen2.5",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    provider = CustomProvider.objects.get()
    change = reverse("admin:secrets_vault_customprovider_change", args=[provider.pk])
    pages = [
        client.get(reverse("admin:secrets_vault_customprovider_changelist")),
        client.get(change),
    ]
    for page in pages:
        html = page.content.decode()
        assert SECRET not in html and SECRET[:-4] not in html and "••••8Kp2" in html
    assert "/providers/vllm/v1" in pages[1].content.decode()
    # A workspace admin cannot point it at an arbitrary host; an empty secret keeps the stored one.
    response = client.post(
        change,
        {
            "api": "openai",
            "base_url": "http://10.0.0.1/v1",
            "headers_text": "",
            "models_text": "",
        },
    )
    assert response.status_code == 200 and "only a superuser" in response.content.decode()
    response = client.post(
        change,
        {
            "api": "openai",
            "base_url": "http://127.0.0.1:8000/v1",
            "headers_text": "",
            "models_text": "llama-3.1-8b",
        },
    )
    assert response.status_code == 302
    provider.refresh_from_db()
    assert provider.last4 == "8Kp2" and provider.model_names == ["llama-3.1-8b"]
    assert provider.extra_headers == {}


def test_admin_hides_other_workspaces_providers(client, owner, outsider):
    from orgs.tests.test_admin_pages import login

    theirs = services.provider_set(
        workspace=outsider.workspace, name="theirs", base_url="http://127.0.0.1:9/v1"
    )
    login(client, owner)
    listing = client.get(reverse("admin:secrets_vault_customprovider_changelist"))
    assert "theirs" not in listing.content.decode()
    change = reverse("admin:secrets_vault_customprovider_change", args=[theirs.pk])
    assert client.get(change).status_code in (302, 404)
