"""manage.py gateway_model_access through call_command."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from orgs.models import AuditLogEntry
from policies.modelaccess.models import ModelAccessPolicy

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("gateway_model_access", *args, stdout=out)
    return out.getvalue()


def test_it_sets_each_providers_models_on_one_policy(owner: Any) -> None:
    base = ["--scope", "workspace", "--subject", "acme/main", "--name", "main models"]
    run(*base, "--provider", "openai", "--models", "gpt-4.1*, gpt-4o-mini")
    out = run(*base, "--provider", "anthropic", "--models", "*")
    assert "OpenAI: gpt-4.1*, gpt-4o-mini" in out and "Anthropic: *" in out
    (policy,) = ModelAccessPolicy.objects.all()
    assert policy.workspace == owner.workspace
    assert {r.provider: r.models for r in policy.rules.all()} == {
        "openai": "gpt-4.1*, gpt-4o-mini",
        "anthropic": "*",
    }
    assert AuditLogEntry.objects.filter(action__startswith="model_access.").count() == 2


def test_each_tier(owner: Any) -> None:
    run("--scope", "organization", "--subject", "acme", "--provider", "gemini", "--models", "*")
    run("--scope", "user", "--subject", "alice@acme.test", "--provider", "openai", "--models", "o3")
    out = run(
        "--scope",
        "api_key",
        "--subject",
        owner.key.display_prefix,
        "--provider",
        "openai",
        "--models",
        "gpt-5*",
    )
    assert f"key {owner.key}" in out or "key " in out
    assert set(ModelAccessPolicy.objects.values_list("scope", flat=True)) == {
        "organization",
        "user",
        "api_key",
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--provider", "openai", "--models", ""], "give the openai models"),
        (["--provider", "openai", "--models", "gpt 4"], "not a model pattern"),
        (["--provider", "mistral", "--models", "*"], "mistral"),
        (["--provider", "openai"], "--models"),
    ],
)
def test_bad_input_is_one_clear_error(owner: Any, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run("--scope", "workspace", "--subject", "acme/main", *args)
    assert not ModelAccessPolicy.objects.exists()


def test_a_customer_is_no_model_access_tier(owner: Any) -> None:
    with pytest.raises(CommandError, match="customer"):
        run(
            "--scope",
            "customer",
            "--subject",
            "acme/main:c1",
            "--provider",
            "openai",
            "--models",
            "*",
        )
