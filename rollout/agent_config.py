"""Ready-to-use configuration files that point coding agents and SDKs at the gateway.

Pure functions: no Django models, no I/O. `manage.py export_agent_config` writes what they
return to disk, and the admin's download view zips the same files (with a placeholder instead of
the key, which the admin cannot show again). Formats follow each client's documented settings:

- Claude Code reads `settings.json` (user: ~/.claude/settings.json) or, for fleet roll-outs,
  `managed-settings.json` in a system directory that users cannot override; its `env` block sets
  ANTHROPIC_BASE_URL (Claude Code appends /v1/messages) and ANTHROPIC_API_KEY (sent as x-api-key).
  On Bedrock or Vertex AI (claude-code-bedrock, claude-code-vertex) it sets the cloud mode, the
  gateway's /bedrock or /vertex/v1 as ANTHROPIC_BEDROCK_BASE_URL / ANTHROPIC_VERTEX_BASE_URL,
  skips the cloud's own authentication (the gateway holds the workspace's cloud credentials) and
  sends the gateway key as ANTHROPIC_AUTH_TOKEN (Authorization: Bearer).
- Codex reads ~/.codex/config.toml; a `[model_providers.<id>]` table with `base_url` ending in
  /v1 (Codex appends /responses), `env_key` naming the variable that holds the key, and
  `wire_api = "responses"`. Managed defaults live in /etc/codex/managed_config.toml.
- Gemini CLI reads GOOGLE_GEMINI_BASE_URL and GEMINI_API_KEY from the environment or from
  ~/.gemini/.env (not from settings.json); settings.json selects API-key auth and the model.
- The SDKs (openai, anthropic, google-genai) read OPENAI_BASE_URL, ANTHROPIC_BASE_URL and
  GOOGLE_GEMINI_BASE_URL plus their key variables.

The key never appears in a file name, and files holding it are meant to be written 0600.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from orgs.keys import parse_key

AGENTS = ("claude-code", "claude-code-bedrock", "claude-code-vertex", "codex", "gemini-cli", "env")
KEY_PLACEHOLDER = "PASTE_YOUR_GATEWAY_KEY_HERE"
PROJECT_PLACEHOLDER = "YOUR_GCP_PROJECT_ID"
BEDROCK_DEFAULT_REGION = "us-east-1"
AZURE_API_VERSION = "2024-10-21"  # the Azure OpenAI api-version AzureOpenAI clients send
VERTEX_DEFAULT_REGION = "us-east5"
_REGION_RE = re.compile(r"^[a-z0-9-]{2,40}$")
_PROJECT_RE = re.compile(r"^[a-z][a-z0-9-]{4,61}[a-z0-9]$")
CODEX_PROVIDER_ID = "llm_gateway"
CODEX_ENV_KEY = "LLM_GATEWAY_API_KEY"
CODEX_DEFAULT_MODEL = "gpt-5-codex"
_MODEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$")
_PROVIDER_SUFFIXES = (
    "/openai/v1",
    "/openai",
    "/anthropic",
    "/gemini",
    "/bedrock",
    "/vertex/v1",
    "/vertex",
    "/v1",
)


class AgentConfigError(ValueError):
    """A bad input, with a message fit to show the operator as is (never containing the key)."""


@dataclass(frozen=True)
class AgentFile:
    """One file to write: its name in the output directory, its text, and where it goes.

    `locations` maps "macOS" / "Linux" / "Windows" to the destination path on that system.
    `secret` says whether the content holds the gateway key (write it 0600, never commit it).
    """

    name: str
    content: str
    description: str
    locations: dict[str, str] = field(default_factory=dict)
    secret: bool = False


def normalize_base_url(base_url: str) -> str:
    """The gateway root as `scheme://host[:port][/prefix]`, no trailing slash.

    Refuses anything but http(s), URLs with credentials, queries or fragments, and URLs that
    already end in a provider path (the files add /openai/v1, /anthropic, /gemini themselves).
    """
    url = (base_url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AgentConfigError(
            f"--base-url must be an http(s) URL such as https://gateway.example.com, not {url!r}"
        )
    if parts.username or parts.password:
        raise AgentConfigError("--base-url must not contain a user name or password")
    if parts.query or parts.fragment:
        raise AgentConfigError("--base-url must not contain a query string or fragment")
    path = parts.path.rstrip("/")
    for suffix in _PROVIDER_SUFFIXES:
        if path.endswith(suffix):
            raise AgentConfigError(
                f"--base-url is the gateway root, without {suffix!r}: "
                f"{parts.scheme}://{parts.netloc}{path[: -len(suffix)]}"
            )
    return f"{parts.scheme}://{parts.netloc}{path}"


def validate_key(key: str) -> str:
    """Return the key if it has the gateway key format (orgs.keys.parse_key); the error does
    not repeat the key."""
    if parse_key((key or "").strip()) is None:
        raise AgentConfigError(
            "--key is not a gateway key: expected gw_sk_<12 chars>_<40 chars> (service key) or "
            "gw_pt_... (personal token); use --placeholder to write a file to fill in later"
        )
    return key.strip()


def parse_models(value: str | None) -> list[str]:
    """`m1,m2` → ["m1", "m2"]; each name must look like a model id."""
    if not value:
        return []
    models = [m.strip() for m in value.split(",") if m.strip()]
    for model in models:
        if not _MODEL_RE.match(model):
            raise AgentConfigError(f"--models: {model!r} is not a model name")
    return models


def claude_code_files(
    *, base_url: str, key: str, managed: bool, models: list[str]
) -> list[AgentFile]:
    """settings.json (or managed-settings.json) with the gateway in its `env` block.

    With models: the first is the main model (`model` and ANTHROPIC_MODEL), the second, when
    given, the small/fast model Claude Code uses for background work
    (ANTHROPIC_DEFAULT_HAIKU_MODEL).
    """
    env: dict[str, str] = {"ANTHROPIC_BASE_URL": f"{base_url}/anthropic", "ANTHROPIC_API_KEY": key}
    return _claude_code_settings(env=env, managed=managed, models=models)


def claude_code_bedrock_files(
    *, base_url: str, key: str, managed: bool, models: list[str], region: str = "", **_: str
) -> list[AgentFile]:
    """Claude Code on Amazon Bedrock through the gateway: its Bedrock mode with
    ANTHROPIC_BEDROCK_BASE_URL at the gateway's /bedrock, AWS authentication skipped (the gateway
    holds the workspace's AWS credentials) and the gateway key as ANTHROPIC_AUTH_TOKEN (sent as
    Authorization: Bearer). AWS_REGION is required by Claude Code; the gateway calls Bedrock in
    the workspace's own AWS_REGION. Models are Bedrock ids (us.anthropic.claude-...)."""
    env = {
        "CLAUDE_CODE_USE_BEDROCK": "1",
        "ANTHROPIC_BEDROCK_BASE_URL": f"{base_url}/bedrock",
        "CLAUDE_CODE_SKIP_BEDROCK_AUTH": "1",
        "ANTHROPIC_AUTH_TOKEN": key,
        "AWS_REGION": _region(region or BEDROCK_DEFAULT_REGION),
    }
    return _claude_code_settings(env=env, managed=managed, models=models)


def claude_code_vertex_files(
    *,
    base_url: str,
    key: str,
    managed: bool,
    models: list[str],
    region: str = "",
    project: str = "",
    **_: str,
) -> list[AgentFile]:
    """Claude Code on Google Vertex AI through the gateway: its Vertex mode with
    ANTHROPIC_VERTEX_BASE_URL at the gateway's /vertex/v1, Google authentication skipped (the
    gateway mints tokens from the workspace's service account) and the gateway key as
    ANTHROPIC_AUTH_TOKEN. The project and region name the Vertex AI paths Claude Code calls
    (the service account's project; models are Vertex ids, claude-sonnet-4-5@20250929)."""
    if project and not _PROJECT_RE.match(project):
        raise AgentConfigError(f"--vertex-project: {project!r} is not a Google Cloud project id")
    env = {
        "CLAUDE_CODE_USE_VERTEX": "1",
        "ANTHROPIC_VERTEX_BASE_URL": f"{base_url}/vertex/v1",
        "CLAUDE_CODE_SKIP_VERTEX_AUTH": "1",
        "ANTHROPIC_AUTH_TOKEN": key,
        "ANTHROPIC_VERTEX_PROJECT_ID": project or PROJECT_PLACEHOLDER,
        "CLOUD_ML_REGION": _region(region or VERTEX_DEFAULT_REGION),
    }
    return _claude_code_settings(env=env, managed=managed, models=models)


def _region(region: str) -> str:
    if not _REGION_RE.match(region):
        raise AgentConfigError(f"--region: {region!r} is not a region name")
    return region


def _claude_code_settings(
    *, env: dict[str, str], managed: bool, models: list[str]
) -> list[AgentFile]:
    settings: dict[str, object] = {
        "$schema": "https://json.schemastore.org/claude-code-settings.json"
    }
    if models:
        env["ANTHROPIC_MODEL"] = models[0]
        settings["model"] = models[0]
        if len(models) > 1:
            env["ANTHROPIC_DEFAULT_HAIKU_MODEL"] = models[1]
    settings["env"] = env
    content = json.dumps(settings, indent=2) + "\n"
    if managed:
        return [
            AgentFile(
                name="managed-settings.json",
                content=content,
                description="Claude Code managed settings (users cannot override them)",
                locations={
                    "macOS": "/Library/Application Support/ClaudeCode/managed-settings.json",
                    "Linux": "/etc/claude-code/managed-settings.json",
                    "Windows": r"C:\ProgramData\ClaudeCode\managed-settings.json",
                },
                secret=True,
            )
        ]
    return [
        AgentFile(
            name="settings.json",
            content=content,
            description="Claude Code user settings (merge the env block into an existing file)",
            locations={
                "macOS": "~/.claude/settings.json",
                "Linux": "~/.claude/settings.json",
                "Windows": r"%USERPROFILE%\.claude\settings.json",
            },
            secret=True,
        )
    ]


def _toml_str(value: str) -> str:
    # A JSON string with ASCII escapes is a valid TOML basic string.
    return json.dumps(value, ensure_ascii=True)


def codex_config_toml(*, base_url: str, models: list[str]) -> str:
    """Codex config.toml selecting the gateway as model provider. The key is not in it: Codex
    reads it from the variable named by env_key."""
    model = models[0] if models else CODEX_DEFAULT_MODEL
    return (
        "# Codex through the LLM Gateway.\n"
        f"model_provider = {_toml_str(CODEX_PROVIDER_ID)}\n"
        f"model = {_toml_str(model)}\n"
        "\n"
        f"[model_providers.{CODEX_PROVIDER_ID}]\n"
        f"name = {_toml_str('LLM Gateway')}\n"
        f"base_url = {_toml_str(base_url + '/openai/v1')}\n"
        f"env_key = {_toml_str(CODEX_ENV_KEY)}\n"
        'wire_api = "responses"\n'
    )


def codex_files(*, base_url: str, key: str, managed: bool, models: list[str]) -> list[AgentFile]:
    """config.toml (and managed_config.toml with `managed`) plus the env files holding the key."""
    toml_text = codex_config_toml(base_url=base_url, models=models)
    files = [
        AgentFile(
            name="config.toml",
            content=toml_text,
            description="Codex user configuration",
            locations={
                "macOS": "~/.codex/config.toml",
                "Linux": "~/.codex/config.toml",
                "Windows": r"%USERPROFILE%\.codex\config.toml",
            },
        )
    ]
    if managed:
        encoded = base64.b64encode(toml_text.encode()).decode()
        files.append(
            AgentFile(
                name="managed_config.toml",
                content=toml_text,
                description=(
                    "Codex managed defaults, re-applied at every start; on macOS an MDM profile "
                    "may instead set com.openai.codex config_toml_base64 to the contents of "
                    "managed_config.toml.b64"
                ),
                locations={
                    "macOS": "/etc/codex/managed_config.toml",
                    "Linux": "/etc/codex/managed_config.toml",
                    "Windows": r"%USERPROFILE%\.codex\managed_config.toml",
                },
            )
        )
        files.append(
            AgentFile(
                name="managed_config.toml.b64",
                content=encoded + "\n",
                description="base64 of managed_config.toml for the macOS configuration profile",
                locations={"macOS": "MDM profile: domain com.openai.codex, key config_toml_base64"},
            )
        )
    files += _env_files(
        stem="codex",
        variables={CODEX_ENV_KEY: key},
        description=f"the {CODEX_ENV_KEY} variable Codex reads the gateway key from",
    )
    return files


def gemini_cli_files(
    *, base_url: str, key: str, managed: bool, models: list[str]
) -> list[AgentFile]:
    """.env with the gateway URL and key (Gemini CLI reads these only from the environment or
    a .env file), and settings.json selecting API-key auth (system-wide with `managed`)."""
    env = {"GOOGLE_GEMINI_BASE_URL": f"{base_url}/gemini", "GEMINI_API_KEY": key}
    if models:
        env["GEMINI_MODEL"] = models[0]
    dotenv = "".join(f"{name}={value}\n" for name, value in env.items())
    settings: dict[str, object] = {"security": {"auth": {"selectedType": "gemini-api-key"}}}
    if models:
        settings["model"] = {"name": models[0]}
    if managed:
        settings_locations = {
            "macOS": "/Library/Application Support/GeminiCli/settings.json",
            "Linux": "/etc/gemini-cli/settings.json",
            "Windows": r"C:\ProgramData\gemini-cli\settings.json",
        }
    else:
        settings_locations = {
            "macOS": "~/.gemini/settings.json",
            "Linux": "~/.gemini/settings.json",
            "Windows": r"%USERPROFILE%\.gemini\settings.json",
        }
    return [
        AgentFile(
            name=".env",
            content=dotenv,
            description="Gemini CLI environment (gateway URL and key)",
            locations={
                "macOS": "~/.gemini/.env",
                "Linux": "~/.gemini/.env",
                "Windows": r"%USERPROFILE%\.gemini\.env",
            },
            secret=True,
        ),
        AgentFile(
            name="settings.json",
            content=json.dumps(settings, indent=2) + "\n",
            description="Gemini CLI settings: API-key authentication"
            + (" (system settings override user settings)" if managed else ""),
            locations=settings_locations,
        ),
    ]


def sdk_env_variables(*, base_url: str, key: str) -> dict[str, str]:
    """The variables the official SDKs read. google-genai prefers GOOGLE_API_KEY over
    GEMINI_API_KEY, so both are set to the gateway key; openai.AzureOpenAI reads the AZURE_*
    and OPENAI_API_VERSION ones (the gateway's /azure, for workspaces with Azure OpenAI)."""
    return {
        "OPENAI_BASE_URL": f"{base_url}/openai/v1",
        "OPENAI_API_KEY": key,
        "ANTHROPIC_BASE_URL": f"{base_url}/anthropic",
        "ANTHROPIC_API_KEY": key,
        "GOOGLE_GEMINI_BASE_URL": f"{base_url}/gemini",
        "GEMINI_API_KEY": key,
        "GOOGLE_API_KEY": key,
        "AZURE_OPENAI_ENDPOINT": f"{base_url}/azure",
        "AZURE_OPENAI_API_KEY": key,
        "OPENAI_API_VERSION": AZURE_API_VERSION,
    }


def _env_files(*, stem: str, variables: dict[str, str], description: str) -> list[AgentFile]:
    posix = "".join(f"export {name}={shlex.quote(value)}\n" for name, value in variables.items())
    powershell = "".join(
        f"$env:{name} = '{value.replace(chr(39), chr(39) * 2)}'\n"
        for name, value in variables.items()
    )
    return [
        AgentFile(
            name=f"{stem}.env.sh",
            content=posix,
            description=f"POSIX shell: {description} (source it from ~/.zshrc or ~/.bashrc)",
            locations={"macOS": "~/.zshrc (source it)", "Linux": "~/.bashrc or /etc/profile.d/"},
            secret=True,
        ),
        AgentFile(
            name=f"{stem}.env.ps1",
            content=powershell,
            description=f"PowerShell: {description} (dot-source it from $PROFILE)",
            locations={"Windows": "$PROFILE (dot-source it), or set as user environment variables"},
            secret=True,
        ),
    ]


def env_files(*, base_url: str, key: str, managed: bool, models: list[str]) -> list[AgentFile]:
    """Shell snippets (POSIX and PowerShell) for the SDKs."""
    return _env_files(
        stem="llm-gateway",
        variables=sdk_env_variables(base_url=base_url, key=key),
        description="the OpenAI (and Azure OpenAI), Anthropic and Google GenAI SDK variables",
    )


_BUILDERS: dict[str, Any] = {
    "claude-code": claude_code_files,
    "claude-code-bedrock": claude_code_bedrock_files,
    "claude-code-vertex": claude_code_vertex_files,
    "codex": codex_files,
    "gemini-cli": gemini_cli_files,
    "env": env_files,
}


def build_agent_files(
    *,
    agent: str,
    base_url: str,
    key: str | None,
    managed: bool = False,
    models: list[str] | None = None,
    region: str = "",
    project: str = "",
) -> list[AgentFile]:
    """Every file for `agent`, validated. `key=None` writes KEY_PLACEHOLDER instead of a key
    (the admin download, which cannot show a key again). `region` and `project`: Claude Code on
    Bedrock or Vertex AI (a project left empty is written as PROJECT_PLACEHOLDER)."""
    if agent not in _BUILDERS:
        raise AgentConfigError(f"unknown agent {agent!r} (choose from {', '.join(AGENTS)})")
    root = normalize_base_url(base_url)
    secret = KEY_PLACEHOLDER if key is None else validate_key(key)
    cloud = {"region": region, "project": project} if agent.startswith("claude-code-") else {}
    return _BUILDERS[agent](
        base_url=root, key=secret, managed=managed, models=list(models or []), **cloud
    )


def locations_text(files: list[AgentFile]) -> str:
    """A plain-text table of where each file goes, per operating system (for MDM)."""
    lines = []
    for f in files:
        lines.append(f"{f.name}: {f.description}")
        for system in ("macOS", "Linux", "Windows"):
            if system in f.locations:
                lines.append(f"  {system:<8} {f.locations[system]}")
    return "\n".join(lines) + "\n"
