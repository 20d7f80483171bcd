"""verify_gateway against a real gateway and the fake provider: the passing case and each failure."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from rollout.tests.conftest import wait_recorder_idle
from tracing.models import Run

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("db_access")]

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


def test_it_passes_and_finds_the_run_in_the_gateway_project(traced_servers, world):
    for provider in ("openai", "anthropic", "gemini"):
        code, text = verify(traced_servers, world.keys["admin"], "--provider", provider)
        assert code == 0, text
        assert "All checks passed." in text
        assert "FAIL" not in text
        wait_recorder_idle(traced_servers.app)
        run = Run.objects.select_related("project").get(
            workspace_id=world.workspace.pk, provider=provider
        )
        assert run.project.name == "gateway"
        assert run.status == "success"
        assert f"Run {run.run_id} in gateway" in text
        assert world.keys["admin"] not in text


def test_it_explains_that_the_gateway_is_off(traced_servers, world):
    code, text = verify(traced_servers, world.keys["off"])
    assert code == 1
    assert "FAIL  LLM Gateway enabled" in text
    assert "LLM Gateway is not enabled for this organization" in text
    assert "superuser" in text
    assert "ok    key accepted" in text
    assert "(not checked)" in text


def test_it_explains_an_unknown_key(traced_servers, world):
    code, text = verify(traced_servers, UNKNOWN_KEY)
    assert code == 1
    assert "FAIL  key accepted" in text
    assert "unknown, malformed, expired or revoked" in text
    assert "new workspace-scoped service key" in text
    assert UNKNOWN_KEY not in text


def test_it_explains_a_role_without_gateway_invoke(traced_servers, world):
    code, text = verify(traced_servers, world.keys["member"])
    assert code == 1
    assert "FAIL  key's role has gateway:invoke" in text
    assert "missing permission gateway:invoke" in text
    assert "option A" in text and "WORKSPACE_ADMIN" in text


def test_it_explains_an_organization_scoped_key(traced_servers, world):
    code, text = verify(traced_servers, world.keys["org"])
    assert code == 1
    assert "FAIL  key is workspace-scoped" in text
    assert "Create a workspace-scoped service key" in text


def test_it_explains_a_missing_provider_secret(traced_servers, world):
    code, text = verify(traced_servers, world.keys["bare"], "--provider", "anthropic")
    assert code == 1
    assert "FAIL  workspace has the ANTHROPIC_API_KEY provider secret" in text
    assert "adds ANTHROPIC_API_KEY under Settings → Integrations → Provider secrets" in text


def test_it_explains_an_unreachable_upstream(traced_servers, world):
    code, text = verify(traced_servers, world.keys["closed"])
    assert code == 1
    assert "FAIL  openai answered the call through the gateway" in text
    assert "could not reach the openai API" in text
    assert "outbound network access" in text


def test_it_explains_an_upstream_refusal_passed_through(traced_servers, world):
    code, text = verify(traced_servers, world.keys["admin"], "--model", "error-401")
    assert code == 1
    assert "FAIL  openai answered the call through the gateway" in text
    assert "refused the call with HTTP 401" in text
    assert "OPENAI_API_KEY is wrong or revoked" in text


def test_it_passes_through_bedrock_and_vertex(traced_servers, world):
    from devtools.testing import give_bedrock_secrets, give_vertex_secret

    give_bedrock_secrets(world.workspace, traced_servers.fake_url, signed=True)
    give_vertex_secret(world.workspace, traced_servers.fake_url)
    for provider, extra in (("bedrock", ()), ("vertex", ("--vertex-project", "fake-project"))):
        code, text = verify(traced_servers, world.keys["admin"], "--provider", provider, *extra)
        assert code == 0, text
        assert "All checks passed." in text
        wait_recorder_idle(traced_servers.app)
        run = Run.objects.get(workspace_id=world.workspace.pk, provider=provider)
        assert run.status == "success" and run.cost_usd > 0


def test_it_passes_through_azure_openai(traced_servers, world):
    from devtools.testing import give_azure_secrets

    give_azure_secrets(world.workspace, traced_servers.fake_url)
    code, text = verify(traced_servers, world.keys["admin"], "--provider", "azure")
    assert code == 0, text
    assert "All checks passed." in text
    wait_recorder_idle(traced_servers.app)
    run = Run.objects.get(workspace_id=world.workspace.pk, provider="azure")
    assert run.status == "success" and run.model == "gpt-4o-mini" and run.cost_usd > 0
    code, text = verify(traced_servers, world.keys["bare"], "--provider", "azure")
    assert code == 1
    assert "FAIL  workspace has the AZURE_OPENAI_API_KEY" in text


def test_it_names_the_cloud_secrets_a_workspace_lacks(traced_servers, world):
    code, text = verify(traced_servers, world.keys["bare"], "--provider", "bedrock")
    assert code == 1
    assert "FAIL  workspace has the AWS_BEARER_TOKEN_BEDROCK" in text
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in text
    with pytest.raises(CommandError, match="--vertex-project"):
        call_command(
            "verify_gateway",
            "--base-url",
            traced_servers.url,
            "--key",
            world.keys["bare"],
            "--provider",
            "vertex",
        )
