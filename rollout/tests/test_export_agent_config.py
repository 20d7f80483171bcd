from __future__ import annotations

import base64
import io
import json
import stat
import tomllib
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from rollout.agent_config import CODEX_ENV_KEY, KEY_PLACEHOLDER

KEY = "gw_sk_abcdefghijkl_" + "a1" * 20
BASE = "https://gw.example.com"


def export(tmp_path: Path, *args: str) -> str:
    out = io.StringIO()
    call_command(
        "export_agent_config", "--base-url", BASE, "--out", str(tmp_path), *args, stdout=out
    )
    return out.getvalue()


def test_it_writes_claude_code_settings(tmp_path):
    printed = export(tmp_path, "--agent", "claude-code", "--key", KEY)
    settings = json.loads((tmp_path / "settings.json").read_text())
    assert settings["env"] == {"ANTHROPIC_BASE_URL": f"{BASE}/anthropic", "ANTHROPIC_API_KEY": KEY}
    assert "model" not in settings
    assert stat.S_IMODE((tmp_path / "settings.json").stat().st_mode) == 0o600
    assert "~/.claude/settings.json" in printed
    assert KEY not in printed


def test_it_writes_claude_code_managed_settings_with_models(tmp_path):
    printed = export(
        tmp_path,
        "--agent",
        "claude-code",
        "--key",
        KEY,
        "--managed",
        "--models",
        "claude-sonnet-4-5,claude-haiku-4-5",
    )
    settings = json.loads((tmp_path / "managed-settings.json").read_text())
    assert settings["model"] == "claude-sonnet-4-5"
    assert settings["env"]["ANTHROPIC_MODEL"] == "claude-sonnet-4-5"
    assert settings["env"]["ANTHROPIC_DEFAULT_HAIKU_MODEL"] == "claude-haiku-4-5"
    assert settings["env"]["ANTHROPIC_BASE_URL"] == f"{BASE}/anthropic"
    assert not (tmp_path / "settings.json").exists()
    for location in (
        "/etc/claude-code/managed-settings.json",
        "/Library/Application Support/ClaudeCode/managed-settings.json",
        r"C:\ProgramData\ClaudeCode\managed-settings.json",
    ):
        assert location in printed


def test_it_writes_codex_config_toml_and_managed_config(tmp_path):
    printed = export(
        tmp_path, "--agent", "codex", "--key", KEY, "--managed", "--models", "gpt-5-codex"
    )
    config = tomllib.loads((tmp_path / "config.toml").read_text())
    provider = config["model_providers"][config["model_provider"]]
    assert provider["base_url"] == f"{BASE}/openai/v1"
    assert provider["wire_api"] == "responses"
    assert provider["env_key"] == CODEX_ENV_KEY
    assert provider["name"]
    assert config["model"] == "gpt-5-codex"
    managed = (tmp_path / "managed_config.toml").read_text()
    assert tomllib.loads(managed) == config
    assert base64.b64decode((tmp_path / "managed_config.toml.b64").read_text()).decode() == managed
    assert KEY not in (tmp_path / "config.toml").read_text()
    assert f"export {CODEX_ENV_KEY}={KEY}" in (tmp_path / "codex.env.sh").read_text()
    assert f"$env:{CODEX_ENV_KEY} = '{KEY}'" in (tmp_path / "codex.env.ps1").read_text()
    assert "/etc/codex/managed_config.toml" in printed


def test_it_writes_gemini_cli_env_and_settings(tmp_path):
    printed = export(tmp_path, "--agent", "gemini-cli", "--key", KEY, "--models", "gemini-2.5-pro")
    env = dict(line.split("=", 1) for line in (tmp_path / ".env").read_text().splitlines() if line)
    assert env == {
        "GOOGLE_GEMINI_BASE_URL": f"{BASE}/gemini",
        "GEMINI_API_KEY": KEY,
        "GEMINI_MODEL": "gemini-2.5-pro",
    }
    settings = json.loads((tmp_path / "settings.json").read_text())
    assert settings["security"]["auth"]["selectedType"] == "gemini-api-key"
    assert settings["model"]["name"] == "gemini-2.5-pro"
    assert "~/.gemini/.env" in printed


def test_it_writes_the_sdk_env_snippets(tmp_path):
    export(tmp_path, "--agent", "env", "--key", KEY)
    text = (tmp_path / "llm-gateway.env.sh").read_text()
    for line in (
        f"export OPENAI_BASE_URL={BASE}/openai/v1",
        f"export ANTHROPIC_BASE_URL={BASE}/anthropic",
        f"export GOOGLE_GEMINI_BASE_URL={BASE}/gemini",
        f"export OPENAI_API_KEY={KEY}",
        f"export ANTHROPIC_API_KEY={KEY}",
        f"export GEMINI_API_KEY={KEY}",
        f"export AZURE_OPENAI_ENDPOINT={BASE}/azure",
        f"export AZURE_OPENAI_API_KEY={KEY}",
        "export OPENAI_API_VERSION=2024-10-21",
    ):
        assert line in text
    assert (
        f"$env:OPENAI_BASE_URL = '{BASE}/openai/v1'"
        in (tmp_path / "llm-gateway.env.ps1").read_text()
    )


def test_the_shell_snippet_sets_the_variables_in_a_real_shell(tmp_path):
    import subprocess

    export(tmp_path, "--agent", "env", "--key", KEY)
    result = subprocess.run(
        [
            "sh",
            "-c",
            f'. {tmp_path / "llm-gateway.env.sh"} && printf %s "$OPENAI_BASE_URL $GEMINI_API_KEY"',
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    )
    assert result.stdout == f"{BASE}/openai/v1 {KEY}"


def test_placeholder_writes_no_key(tmp_path):
    printed = export(tmp_path, "--agent", "claude-code", "--placeholder")
    settings = json.loads((tmp_path / "settings.json").read_text())
    assert settings["env"]["ANTHROPIC_API_KEY"] == KEY_PLACEHOLDER
    assert KEY_PLACEHOLDER in printed


def test_a_base_url_path_prefix_is_kept_and_trailing_slash_dropped(tmp_path):
    out = io.StringIO()
    call_command(
        "export_agent_config",
        "--agent",
        "codex",
        "--base-url",
        "http://127.0.0.1:8000/llm/",
        "--key",
        KEY,
        "--out",
        str(tmp_path),
        stdout=out,
    )
    config = tomllib.loads((tmp_path / "config.toml").read_text())
    assert (
        config["model_providers"]["llm_gateway"]["base_url"]
        == "http://127.0.0.1:8000/llm/openai/v1"
    )


@pytest.mark.parametrize(
    ("base_url", "message"),
    [
        ("gw.example.com", "must be an http(s) URL"),
        ("ftp://gw.example.com", "must be an http(s) URL"),
        ("https://gw.example.com/openai/v1", "gateway root, without '/openai/v1'"),
        ("https://gw.example.com/anthropic", "gateway root"),
        ("https://user:pw@gw.example.com", "user name or password"),
        ("https://gw.example.com?x=1", "query string"),
    ],
)
def test_it_refuses_a_bad_base_url(tmp_path, base_url, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call_command(
            "export_agent_config",
            "--agent",
            "env",
            "--base-url",
            base_url,
            "--key",
            KEY,
            "--out",
            str(tmp_path),
        )
    assert list(tmp_path.iterdir()) == []


def test_it_refuses_a_malformed_key_without_echoing_it(tmp_path):
    bad = "sk-ant-not-a-gateway-key-1234567890"
    with pytest.raises(CommandError) as info:
        call_command(
            "export_agent_config",
            "--agent",
            "env",
            "--base-url",
            BASE,
            "--key",
            bad,
            "--out",
            str(tmp_path),
        )
    assert "not a gateway key" in str(info.value)
    assert bad not in str(info.value)


def test_it_refuses_a_bad_model_name(tmp_path):
    with pytest.raises(CommandError, match="not a model name"):
        export(tmp_path, "--agent", "codex", "--key", KEY, "--models", 'gpt"5')


def test_it_refuses_to_overwrite_without_force(tmp_path):
    export(tmp_path, "--agent", "claude-code", "--key", KEY)
    with pytest.raises(CommandError, match="already exist"):
        export(tmp_path, "--agent", "claude-code", "--placeholder")
    export(tmp_path, "--agent", "claude-code", "--placeholder", "--force")
    assert KEY_PLACEHOLDER in (tmp_path / "settings.json").read_text()


def test_key_and_placeholder_are_exclusive(tmp_path):
    with pytest.raises(CommandError):
        export(tmp_path, "--agent", "env", "--key", KEY, "--placeholder")


def test_it_writes_claude_code_settings_for_bedrock_through_the_gateway(tmp_path):
    export(
        tmp_path,
        "--agent",
        "claude-code-bedrock",
        "--key",
        KEY,
        "--region",
        "eu-west-1",
        "--models",
        "eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
    )
    settings = json.loads((tmp_path / "settings.json").read_text())
    assert settings["env"] == {
        "CLAUDE_CODE_USE_BEDROCK": "1",
        "ANTHROPIC_BEDROCK_BASE_URL": f"{BASE}/bedrock",
        "CLAUDE_CODE_SKIP_BEDROCK_AUTH": "1",
        "ANTHROPIC_AUTH_TOKEN": KEY,
        "AWS_REGION": "eu-west-1",
        "ANTHROPIC_MODEL": "eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
    }
    assert stat.S_IMODE((tmp_path / "settings.json").stat().st_mode) == 0o600


def test_it_writes_claude_code_settings_for_vertex_through_the_gateway(tmp_path):
    export(tmp_path, "--agent", "claude-code-vertex", "--placeholder", "--managed")
    env = json.loads((tmp_path / "managed-settings.json").read_text())["env"]
    assert env["CLAUDE_CODE_USE_VERTEX"] == "1"
    assert env["ANTHROPIC_VERTEX_BASE_URL"] == f"{BASE}/vertex/v1"
    assert env["CLAUDE_CODE_SKIP_VERTEX_AUTH"] == "1"
    assert env["ANTHROPIC_AUTH_TOKEN"] == KEY_PLACEHOLDER
    assert env["ANTHROPIC_VERTEX_PROJECT_ID"] == "YOUR_GCP_PROJECT_ID"
    assert env["CLOUD_ML_REGION"] == "us-east5"
    with pytest.raises(CommandError, match="not a Google Cloud project id"):
        export(
            tmp_path,
            "--agent",
            "claude-code-vertex",
            "--key",
            KEY,
            "--force",
            "--vertex-project",
            "Bad Project!",
        )
