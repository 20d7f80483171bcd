"""The ops CLI through call_command: the documented names and flags, idempotence, one-line
errors with exit code 1 (CommandError), keys only on stdout."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from orgs import services
from orgs.models import ApiKey, AuditLogEntry, Organization, Role, WorkspaceMember
from secrets_vault.models import ProviderSecret

pytestmark = pytest.mark.django_db


def run(*args, **kwargs):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err, **kwargs)
    return out.getvalue(), err.getvalue()


def test_gateway_org_creates_then_updates_idempotently():
    run("gateway_org", "acme", "--name", "Acme", "--plan", "enterprise", "--enable-gateway")
    org = Organization.objects.get(slug="acme")
    assert (org.name, org.plan, org.llm_gateway_enabled) == ("Acme", "enterprise", True)
    entries = AuditLogEntry.objects.count()
    out, _ = run("gateway_org", "acme", "--plan", "enterprise")
    assert AuditLogEntry.objects.count() == entries  # nothing changed, nothing recorded
    assert "gateway=enabled" in out
    run("gateway_org", "acme", "--disable-gateway")
    assert not Organization.objects.get(slug="acme").llm_gateway_enabled


def test_gateway_org_rejects_bad_slug_in_one_line():
    with pytest.raises(CommandError) as exc:
        run("gateway_org", "Not A Slug")
    assert "\n" not in str(exc.value)


def test_gateway_workspace_needs_an_existing_org_and_org_ws_path():
    with pytest.raises(CommandError, match="no organization"):
        run("gateway_workspace", "nope/main")
    with pytest.raises(CommandError, match="ORG/WS"):
        run("gateway_workspace", "nope")
    run("gateway_org", "acme")
    out, _ = run("gateway_workspace", "acme/main", "--name", "Main")
    assert out.strip() == "acme/main: name='Main'"


def test_gateway_member_creates_the_user_and_sets_roles():
    run("gateway_org", "acme")
    run("gateway_workspace", "acme/main")
    out, _ = run(
        "gateway_member",
        "Eve@Acme.test",
        "--workspace",
        "acme/main",
        "--role",
        "WORKSPACE_USER",
        "--org-role",
        "ORGANIZATION_ADMIN",
    )
    assert "WORKSPACE_USER in acme/main, ORGANIZATION_ADMIN in acme" in out
    run("gateway_member", "eve@acme.test", "--workspace", "acme/main", "--role", "WORKSPACE_ADMIN")
    member = WorkspaceMember.objects.get()
    assert member.role.name == "WORKSPACE_ADMIN"
    with pytest.raises(CommandError, match="no role"):
        run("gateway_member", "eve@acme.test", "--workspace", "acme/main", "--role", "BOSS")
    with pytest.raises(CommandError, match="organization role; a workspace role"):
        run(
            "gateway_member",
            "eve@acme.test",
            "--workspace",
            "acme/main",
            "--role",
            "ORGANIZATION_ADMIN",
        )


def test_gateway_role_refused_on_basic_plan_and_for_builtins():
    run("gateway_org", "acme")
    with pytest.raises(CommandError, match="enterprise plan"):
        run("gateway_role", "acme", "Invokers", "--permissions", "gateway:invoke,workspaces:read")
    run("gateway_org", "acme", "--plan", "enterprise")
    with pytest.raises(CommandError, match="built-in role"):
        run("gateway_role", "acme", "WORKSPACE_USER", "--permissions", "gateway:invoke")
    with pytest.raises(CommandError, match="unknown workspace permissions: fly"):
        run("gateway_role", "acme", "Invokers", "--permissions", "fly")
    out, _ = run(
        "gateway_role", "acme", "Invokers", "--permissions", "gateway:invoke,workspaces:read"
    )
    assert "Invokers = gateway:invoke, workspaces:read" in out
    assert Role.objects.get(name="WORKSPACE_USER").permissions == [
        "projects:read",
        "runs:read",
        "workspaces:read",
    ]


def test_gateway_key_prints_only_the_key_on_stdout(owner):
    out, err = run(
        "gateway_key",
        "--workspace",
        "acme/main",
        "--role",
        "WORKSPACE_ADMIN",
        "--user",
        owner.user.email,
        "--name",
        "ci",
        "--expires-days",
        "30",
    )
    key = out.strip()
    assert "\n" not in key and key.startswith("gw_sk_")
    found = services.api_key_authenticate(key)
    assert found is not None and found.name == "ci" and found.user == owner.user
    assert found.display_prefix in err and key not in err
    assert found.expires_at is not None


def test_gateway_key_personal_and_org_scoped(owner):
    out, _ = run(
        "gateway_key", "--personal", "--user", owner.user.email, "--workspace", "acme/main"
    )
    assert services.api_key_authenticate(out.strip()).kind == ApiKey.Kind.PERSONAL
    out, _ = run("gateway_key", "--org", "acme", "--role", "ORGANIZATION_ADMIN")
    key = services.api_key_authenticate(out.strip())
    assert key.workspace is None and key.role.name == "ORGANIZATION_ADMIN"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workspace", "acme/main"], "needs --role"),
        (["--workspace", "acme/nope", "--role", "WORKSPACE_ADMIN"], "no workspace"),
        (
            ["--workspace", "acme/main", "--role", "WORKSPACE_ADMIN", "--expires-at", "soon"],
            "ISO 8601",
        ),
        (
            [
                "--workspace",
                "acme/main",
                "--role",
                "WORKSPACE_ADMIN",
                "--expires-at",
                "2001-01-01T00:00:00Z",
            ],
            "expiry must be in the future",
        ),
        (
            ["--workspace", "acme/main", "--role", "WORKSPACE_ADMIN", "--user", "ghost@x.test"],
            "no user",
        ),
        (["--org", "acme", "--role", "WORKSPACE_ADMIN"], "organization role is needed"),
        (["--personal", "--workspace", "acme/main"], "needs --user"),
    ],
)
def test_gateway_key_bad_input_is_a_one_line_error(owner, args, message):
    count = ApiKey.objects.count()
    with pytest.raises(CommandError, match=message) as exc:
        run("gateway_key", *args)
    assert "\n" not in str(exc.value)
    assert ApiKey.objects.count() == count


def test_gateway_revoke_key_by_prefix_id_or_value(owner, outsider):
    out, _ = run("gateway_revoke_key", owner.key.display_prefix)
    assert out.strip() == f"{owner.key.display_prefix} revoked"
    assert services.api_key_authenticate(owner.plaintext_key) is None
    out, _ = run("gateway_revoke_key", owner.key.display_prefix)
    assert "already revoked" in out
    run("gateway_revoke_key", outsider.plaintext_key)
    assert ApiKey.objects.get(pk=outsider.key.pk).revoked_at is not None
    with pytest.raises(CommandError, match="no such key"):
        run("gateway_revoke_key", "gw_sk_" + "x" * 12)


def test_cli_error_exits_1_with_one_line_on_stderr(tmp_path):
    """Through a real process: the exit code and stderr a shell script sees."""
    env_db = tmp_path / "cli.sqlite3"
    env = {"SQLITE_PATH": str(env_db), "PATH": "/usr/bin:/bin", "DEBUG": "True"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], env=env, check=True)
    result = subprocess.run(
        [sys.executable, "manage.py", "gateway_workspace", "missing/ws"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().count("\n") == 0
    assert "no organization 'missing'" in result.stderr


def test_gateway_demo_is_idempotent_and_prints_what_make_run_needs():
    out1, _ = run("gateway_demo", "--fake-provider-url", "http://127.0.0.1:18199")
    out2, _ = run("gateway_demo")
    org = Organization.objects.get(slug="demo")
    assert org.llm_gateway_enabled and org.workspaces.get().slug == "default"
    keys = [
        line.split()[1] for line in (out1 + out2).splitlines() if line.strip().startswith("key:")
    ]
    assert len(keys) == 2 and keys[0] != keys[1]
    for key in keys:
        assert services.api_key_authenticate(key).role.name == "WORKSPACE_ADMIN"
    passwords = [line.split()[1] for line in (out1 + out2).splitlines() if "password:" in line]
    from django.contrib.auth import authenticate

    assert authenticate(username="admin", password=passwords[0]) is None  # reset on re-run
    assert authenticate(username="admin", password=passwords[1]).is_superuser
    assert "curl http://127.0.0.1:8000/openai/v1/chat/completions" in out2
    secrets = org.workspaces.get().provider_secrets.all()
    # Every provider the fake speaks, each secret once (a re-run replaces, never adds).
    assert {s.base_url for s in secrets} == {"http://127.0.0.1:18199"}
    assert sorted(s.name for s in secrets) == sorted(ProviderSecret.Name.values)
