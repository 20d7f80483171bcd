"""`manage.py export_agent_config`: write the gateway configuration for one coding agent."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from orgs.cli import GatewayCommand
from rollout.agent_config import (
    AGENTS,
    KEY_PLACEHOLDER,
    AgentConfigError,
    build_agent_files,
    locations_text,
    parse_models,
)


class Command(GatewayCommand):
    help = (
        "Write ready-to-use configuration files pointing Claude Code (directly, or in its "
        "Bedrock or Vertex AI mode), Codex, Gemini CLI or the SDKs at the gateway, and print where each file goes on macOS, Linux and Windows."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--agent", required=True, choices=AGENTS)
        parser.add_argument(
            "--base-url", required=True, help="gateway root, e.g. https://gw.example.com"
        )
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--key", help="the gateway key (gw_sk_... or gw_pt_...)")
        who.add_argument(
            "--placeholder",
            action="store_true",
            help=f"write {KEY_PLACEHOLDER} instead of a key, to fill in per user",
        )
        parser.add_argument("--managed", action="store_true", help="system-wide files for MDM")
        parser.add_argument("--models", help="comma-separated model names, first is the default")
        parser.add_argument(
            "--region",
            default="",
            help="claude-code-bedrock: AWS_REGION (default us-east-1); claude-code-vertex: "
            "CLOUD_ML_REGION (default us-east5)",
        )
        parser.add_argument(
            "--vertex-project",
            default="",
            help="claude-code-vertex: the Google Cloud project of the workspace's service account",
        )
        parser.add_argument("--out", default=".", help="output directory (created if missing)")
        parser.add_argument("--force", action="store_true", help="overwrite existing files")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            files = build_agent_files(
                agent=options["agent"],
                base_url=options["base_url"],
                key=None if options["placeholder"] else options["key"],
                managed=options["managed"],
                models=parse_models(options["models"]),
                region=options["region"],
                project=options["vertex_project"],
            )
        except AgentConfigError as exc:
            raise CommandError(str(exc)) from exc
        out = Path(options["out"])
        if out.exists() and not out.is_dir():
            raise CommandError(f"--out {out} exists and is not a directory")
        existing = [f.name for f in files if (out / f.name).exists()]
        if existing and not options["force"]:
            raise CommandError(
                f"{', '.join(existing)} already exist in {out}; use --force to overwrite"
            )
        out.mkdir(parents=True, exist_ok=True)
        for f in files:
            self._write(out / f.name, f.content, secret=f.secret and not options["placeholder"])
        self.stdout.write(
            f"Wrote {len(files)} file(s) for {options['agent']} to {out.resolve()}:\n"
        )
        self.stdout.write(locations_text(files))
        if options["placeholder"]:
            self.stdout.write(
                f"Replace {KEY_PLACEHOLDER} with each user's gateway key before use.\n"
            )
        else:
            self.stdout.write(
                "Files marked with the key are readable by you only (0600): do not commit them.\n"
            )

    @staticmethod
    def _write(path: Path, content: str, *, secret: bool) -> None:
        # Create 0600 from the start for files holding a key, so no window where others can read it.
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        fd = os.open(path, flags, 0o600 if secret else 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        if secret:
            path.chmod(0o600)
