"""verify_gateway against a real gateway and the fake provider: the passing case and each failure."""

from __future__ import annotations

import io
import socket

import pytest
from django.core.management import CommandError, call_command

from orgs import services
from orgs.models import Role
from rollout.tests.conftest import give_secrets, wait_recorder_idle
from tracing.models import Run

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

UNKNOWN_KEY = "gw_sk_zzzzzzzzzzzz_" + "0" * 40


def verify(servers, key: str, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command(
            "verify_gateway",
            "--base-url",
            servers.url,
            "--key",
            key,
            "--timeout",
            "10",
            "--trace-timeout",
            "5",
            *args,
            stdout=out,
        )
    except CommandError as exc:
        return exc.returncode, out.getvalue()
    return 0, out.getvalue()


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_it_passes_and_finds_the_run_in_the_gateway_project(gateway, owner, provider):
    give_secrets(owner.workspace, gateway.fake_url)
    code, text = verify(gateway, owner.plaintext_key, "--provider", provider)
    assert code == 0, text
    assert "All checks passed." in text
    assert "FAIL" not in text
    wait_recorder_idle(gateway.app)
    run = Run.objects.get(workspace_id=owner.workspace.pk, provider=provider)
    assert run.project.name == "gateway"
    assert f"Run {run.run_id} in gateway" in text
    assert owner.plaintext_key not in text


def test_it_explains_that_the_gateway_is_off(gateway, owner):
    give_secrets(owner.workspace, gateway.fake_url)
    services.organization_upsert(slug=owner.organization.slug, llm_gateway_enabled=False)
    code, text = verify(gateway, owner.plaintext_key)
    assert code == 1
    assert "FAIL  LLM Gateway enabled" in text
    assert "LLM Gateway is not enabled for this organization" in text
    assert "superuser" in text
    assert "ok    key accepted" in text
    assert "(not checked)" in text


def test_it_explains_an_unknown_key(gateway, owner):
    code, text = verify(gateway, UNKNOWN_KEY)
    assert code == 1
    assert "FAIL  key accepted" in text
    assert "unknown, malformed, expired or revoked" in text
    assert "new workspace-scoped service key" in text
    assert UNKNOWN_KEY not in text


def test_it_explains_a_role_without_gateway_invoke(gateway, owner, member):
    give_secrets(owner.workspace, gateway.fake_url)
    code, text = verify(gateway, member.plaintext_key)
    assert code == 1
    assert "FAIL  key's role has gateway:invoke" in text
    assert "missing permission gateway:invoke" in text
    assert "option A" in text and "WORKSPACE_ADMIN" in text


def test_it_explains_an_organization_scoped_key(gateway, owner):
    created = services.api_key_create(
        organization=owner.organization,
        workspace=None,
        role=Role.objects.get(builtin=True, name="ORGANIZATION_ADMIN"),
        name="org key",
    )
    code, text = verify(gateway, created.plaintext)
    assert code == 1
    assert "FAIL  key is workspace-scoped" in text
    assert "Create a workspace-scoped service key" in text


def test_it_explains_a_missing_provider_secret(gateway, owner):
    code, text = verify(gateway, owner.plaintext_key, "--provider", "anthropic")
    assert code == 1
    assert "FAIL  workspace has the ANTHROPIC_API_KEY provider secret" in text
    assert "adds ANTHROPIC_API_KEY under Settings → Integrations → Provider secrets" in text


def test_it_explains_an_unreachable_upstream(gateway, owner):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    give_secrets(owner.workspace, closed)
    code, text = verify(gateway, owner.plaintext_key)
    assert code == 1
    assert "FAIL  openai answered the call through the gateway" in text
    assert "could not reach the openai API" in text
    assert "outbound network access" in text


def test_it_explains_an_upstream_refusal_passed_through(gateway, owner):
    give_secrets(owner.workspace, gateway.fake_url)
    code, text = verify(gateway, owner.plaintext_key, "--model", "error-401")
    assert code == 1
    assert "FAIL  openai answered the call through the gateway" in text
    assert "refused the call with HTTP 401" in text
    assert "OPENAI_API_KEY is wrong or revoked" in text
