"""manage.py gateway_provider ORG/WS NAME --api openai --base-url URL [--models a,b]
[--header 'Name: value' ...] [--secret-stdin | --no-secret] [--delete]

Creates or updates a workspace's custom OpenAI-compatible provider, reached at
/providers/NAME/v1. The secret is read from stdin only (--secret-stdin), never from argv (argv
shows up in `ps` and shell history); from a terminal it is prompted for without echo.
"""

from __future__ import annotations

import getpass
import sys
from typing import Any

from django.core.management.base import CommandError, CommandParser

from orgs import services as org_services
from orgs.cli import GatewayCommand
from secrets_vault import services
from secrets_vault.models import CustomProvider


class Command(GatewayCommand):
    help = (
        "Create or update a workspace's custom OpenAI-compatible provider (vLLM, Ollama, TGI, "
        "LM Studio...), reached at /providers/NAME/v1; --secret-stdin reads its API key from "
        "stdin."
    )
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("workspace", metavar="ORG/WS")
        parser.add_argument("name", metavar="NAME")
        parser.add_argument(
            "--api",
            choices=CustomProvider.Api.values,
            default=None,
            help="the API it speaks (openai: OpenAI Chat Completions)",
        )
        parser.add_argument(
            "--base-url", default=None, help="the URL an OpenAI SDK would use, with its /v1"
        )
        parser.add_argument(
            "--models", default=None, help="comma-separated models callers may name ('' = any)"
        )
        parser.add_argument(
            "--header",
            action="append",
            default=None,
            metavar="'NAME: VALUE'",
            help="an extra header sent upstream (repeat it; replaces the stored set)",
        )
        secret = parser.add_mutually_exclusive_group()
        secret.add_argument(
            "--secret-stdin", action="store_true", help="read the secret from stdin"
        )
        secret.add_argument("--no-secret", action="store_true", help="remove the stored secret")
        parser.add_argument("--delete", action="store_true", help="delete the provider")

    def handle(self, *args: Any, **options: Any) -> None:
        ws = org_services.workspace_get_by_path(options["workspace"])
        name = options["name"]
        if options["delete"]:
            provider = CustomProvider.objects.filter(workspace=ws, name=name).first()
            if provider is None:
                raise CommandError(f"{ws} has no custom provider {name}")
            services.provider_delete(provider=provider)
            self.stdout.write(f"{ws}: custom provider {name} deleted")
            return
        secret = None
        if options["secret_stdin"]:
            secret = self._read_value(options.get("stdin") or sys.stdin)
            if not secret:
                raise CommandError("--secret-stdin: no secret on stdin (pipe it in: ... < file)")
        headers = None
        if options["header"] is not None:
            headers = {}
            for line in options["header"]:
                key, sep, value = line.partition(":")
                if not sep:
                    raise CommandError(f"--header {line!r}: expected 'Name: value'")
                headers[key.strip()] = value.strip()
        models = None
        if options["models"] is not None:
            models = options["models"].split(",")
        existing = CustomProvider.objects.filter(workspace=ws, name=name).first()
        provider = services.provider_set(
            workspace=ws,
            name=name,
            api=options["api"] or (existing.api if existing else CustomProvider.Api.OPENAI),
            base_url=options["base_url"],
            secret=secret,
            clear_secret=options["no_secret"],
            extra_headers=headers,
            models=models,
        )
        secret_note = f"secret …{provider.last4}" if provider.has_secret else "no secret"
        models_note = ",".join(provider.model_names) or "any model"
        self.stdout.write(
            f"{ws}: custom provider {provider.name} ({provider.api}) at {provider.base_url}, "
            f"{secret_note}, {models_note}; call it at /providers/{provider.name}/v1"
        )

    def _read_value(self, stream: Any) -> str:
        if hasattr(stream, "isatty") and stream.isatty():
            return getpass.getpass("secret value (not echoed): ").strip()
        return stream.read().strip()
