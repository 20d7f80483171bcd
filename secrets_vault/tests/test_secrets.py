"""Provider secrets: encrypted at rest, rotation keeps them readable, base URL guard, audit
entries without the value, and the CLI (value from stdin only)."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from orgs.models import AuditLogEntry
from secrets_vault import services
from secrets_vault.crypto import SecretUnreadable
from secrets_vault.models import ProviderSecret

pytestmark = pytest.mark.django_db

VALUE = "sk-proj-Plaintext-Provider-Value-7Qx9"


def _raw_rows(table: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")
        return repr(cursor.fetchall())


def test_the_database_holds_no_plaintext_secret(owner):
    services.secret_set(workspace=owner.workspace, name="OPENAI_API_KEY", value=VALUE)
    for table in ("secrets_vault_providersecret", "orgs_auditlogentry"):
        rows = _raw_rows(table)
        assert VALUE not in rows and VALUE[:-4] not in rows
    secret = ProviderSecret.objects.get()
    assert secret.last4 == "7Qx9"
    assert services.secret_decrypt(secret=secret) == VALUE


def test_rotation_keeps_every_secret_readable(owner, outsider, settings):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.GATEWAY_SECRETS_KEYS = [old_key]
    values = {owner.workspace: "sk-owner-1111", outsider.workspace: "sk-outsider-2222"}
    for ws, value in values.items():
        services.secret_set(workspace=ws, name="ANTHROPIC_API_KEY", value=value)
    settings.GATEWAY_SECRETS_KEYS = [new_key, old_key]
    out = io.StringIO()
    call_command("gateway_rotate_secrets", stdout=out)
    assert "re-encrypted 2 provider secret(s)" in out.getvalue()
    settings.GATEWAY_SECRETS_KEYS = [new_key]  # the old key is dropped
    for ws, value in values.items():
        secret = ProviderSecret.objects.get(workspace=ws)
        assert services.secret_decrypt(secret=secret) == value


def test_rotation_without_the_old_key_fails_clearly(owner, settings):
    settings.GATEWAY_SECRETS_KEYS = [Fernet.generate_key().decode()]
    services.secret_set(workspace=owner.workspace, name="GOOGLE_API_KEY", value="AIza-x-1234")
    settings.GATEWAY_SECRETS_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(SecretUnreadable):
        services.secret_decrypt(secret=ProviderSecret.objects.get())
    with pytest.raises(CommandError, match="does not decrypt"):
        call_command("gateway_rotate_secrets", stdout=io.StringIO())


def test_base_url_guard(owner, settings, django_user_model):
    settings.GATEWAY_UPSTREAM_ALLOWED_HOSTS = ["proxy.corp.example"]
    ws = owner.workspace
    with pytest.raises(PermissionDenied, match="only a superuser"):
        services.secret_set(
            workspace=ws,
            name="OPENAI_API_KEY",
            value=VALUE,
            base_url="http://169.254.169.254",
            actor=owner.user,
        )
    assert not ProviderSecret.objects.exists()
    secret = services.secret_set(
        workspace=ws,
        name="OPENAI_API_KEY",
        value=VALUE,
        base_url="https://proxy.corp.example/openai/",
        actor=owner.user,
    )
    assert secret.base_url == "https://proxy.corp.example/openai"
    for bad in (
        "ftp://x.example",
        "https://user:pw@proxy.corp.example",
        "https://proxy.corp.example?a=1",
    ):
        with pytest.raises(ValidationError):
            services.secret_set(
                workspace=ws, name="OPENAI_API_KEY", value=VALUE, base_url=bad, actor=owner.user
            )
    root = django_user_model.objects.create_superuser("root", "root@x.test", "pw")
    secret = services.secret_set(
        workspace=ws,
        name="OPENAI_API_KEY",
        value=None,
        base_url="http://127.0.0.1:9999",
        actor=root,
    )
    assert secret.base_url == "http://127.0.0.1:9999"
    # The workspace admin may still replace the value while the operator's URL stays.
    secret = services.secret_set(
        workspace=ws,
        name="OPENAI_API_KEY",
        value="sk-new-5555",
        base_url="http://127.0.0.1:9999",
        actor=owner.user,
    )
    assert (secret.last4, secret.base_url) == ("5555", "http://127.0.0.1:9999")


def test_audit_log_records_secret_changes_without_the_value(owner):
    services.secret_set(
        workspace=owner.workspace, name="OPENAI_API_KEY", value=VALUE, actor=owner.user
    )
    services.secret_set(
        workspace=owner.workspace, name="OPENAI_API_KEY", value="sk-second-8888", actor=owner.user
    )
    services.secret_delete(secret=ProviderSecret.objects.get(), actor=owner.user)
    entries = list(AuditLogEntry.objects.filter(object_type="ProviderSecret").order_by("id"))
    assert [e.action for e in entries] == [
        "provider_secret.set",
        "provider_secret.update",
        "provider_secret.delete",
    ]
    assert entries[1].before["last4"] == "7Qx9" and entries[1].after["last4"] == "8888"
    assert all(e.actor == owner.user and e.workspace == owner.workspace for e in entries)
    dump = repr([(e.before, e.after, e.object_repr) for e in entries])
    assert VALUE not in dump and "sk-second-8888" not in dump


def _secret_cmd(*args, stdin: str):
    out, err = io.StringIO(), io.StringIO()
    call_command("gateway_secret", *args, stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_gateway_secret_reads_the_value_from_stdin(owner):
    out, err = _secret_cmd(
        "acme/main", "OPENAI_API_KEY", "--base-url", "http://127.0.0.1:18199", stdin=VALUE + "\n"
    )
    assert out.strip() == "acme/main: OPENAI_API_KEY set (…7Qx9) base_url=http://127.0.0.1:18199"
    assert VALUE not in out + err
    secret = ProviderSecret.objects.get()
    assert services.secret_decrypt(secret=secret) == VALUE
    _secret_cmd("acme/main", "OPENAI_API_KEY", "--base-url", "", stdin="")
    assert ProviderSecret.objects.get().base_url == ""
    assert services.secret_decrypt(secret=ProviderSecret.objects.get()) == VALUE


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["acme/main", "OPENAI_API_KEY"], "", "no secret value on stdin"),
        (["acme/main", "OPENAI_API_KEY"], "two words", "whitespace"),
        (["acme/nope", "OPENAI_API_KEY"], VALUE, "no workspace"),
        (["acme/main", "OPENAI_API_KEY", "--base-url", "file:///etc/passwd"], VALUE, "http"),
    ],
)
def test_gateway_secret_bad_input(owner, args, stdin, message):
    with pytest.raises(CommandError, match=message) as exc:
        _secret_cmd(*args, stdin=stdin)
    assert VALUE not in str(exc.value)
    assert not ProviderSecret.objects.exists()


def test_gateway_secret_refuses_an_unknown_name(owner):
    with pytest.raises(CommandError):
        _secret_cmd("acme/main", "MISTRAL_API_KEY", stdin=VALUE)


def test_a_service_account_key_file_is_stored_encrypted_and_compact(owner):
    import json

    from devtools.fake_formats_cloud import fake_service_account

    info = fake_service_account("https://oauth2.googleapis.com/token")
    pasted = json.dumps(info, indent=2)  # as the file reads, line breaks and all
    out, _ = _secret_cmd("acme/main", "VERTEX_SERVICE_ACCOUNT_JSON", stdin=pasted)
    assert "VERTEX_SERVICE_ACCOUNT_JSON set (…beef)" in out
    secret = ProviderSecret.objects.get(name="VERTEX_SERVICE_ACCOUNT_JSON")
    assert secret.last4 == "beef"  # of the key id, not of the key
    assert json.loads(services.secret_decrypt(secret=secret)) == info
    rows = _raw_rows("secrets_vault_providersecret") + _raw_rows("orgs_auditlogentry")
    assert "PRIVATE KEY" not in rows and info["client_email"] not in rows


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("VERTEX_SERVICE_ACCOUNT_JSON", "not json", "JSON key file"),
        ("VERTEX_SERVICE_ACCOUNT_JSON", '{"type": "authorized_user"}', "service_account"),
        ("VERTEX_SERVICE_ACCOUNT_JSON", '{"type": "service_account"}', "lacks client_email"),
        ("AWS_REGION", "Europe", "AWS region name"),
        ("VERTEX_LOCATION", "https://evil.example", "Vertex AI location"),
        ("VERTEX_LOCATION", "US-EAST5", "Vertex AI location"),
    ],
)
def test_cloud_settings_are_checked(owner, name, value, message):
    with pytest.raises(ValidationError, match=message):
        services.secret_set(workspace=owner.workspace, name=name, value=value)
    assert not ProviderSecret.objects.exists()
    services.secret_set(workspace=owner.workspace, name="AWS_REGION", value="eu-west-3")
    for location in ("global", "us-east5", "europe-west1", "eu"):
        services.secret_set(workspace=owner.workspace, name="VERTEX_LOCATION", value=location)
