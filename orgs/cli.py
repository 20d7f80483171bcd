"""The gateway's management commands: one contract for the whole CLI, and the look-ups the
tenancy commands share.

Every command derives from `GatewayCommand` instead of Django's `BaseCommand` and is otherwise a
plain Django command, a thin adapter: parse arguments, call one service, print. The contract:
- bad input, argument errors included, is one line on stderr (`CommandError: ...`) and exit
  code 1. Django's own parser prints the usage and exits with 2 on an argument error, and lets
  a service's ValidationError escape as a traceback; here both become one line;
- output piped into a command that stops reading early (`... | head`) ends quietly: no
  BrokenPipeError traceback, exit code 141 (128 + SIGPIPE, what `yes | head` reports);
- `--traceback` still shows the traceback of a CommandError, as Django documents.
Called through `call_command`, errors are raised as CommandError (never SystemExit), so tests
and scripts see the same one-line message. The CLI runs as the platform operator
(actor=None), as the services document. It lives here, in the app every other one builds on,
so that every app's commands can use it.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from orgs.models import Organization, Role

SIGPIPE_EXIT = 141


def one_line(exc: BaseException | str) -> str:
    """The message of an error (or all messages of a ValidationError) on a single line."""
    if isinstance(exc, str):
        text = exc
    else:
        messages = getattr(exc, "messages", None)
        text = "; ".join(str(m) for m in messages) if messages else str(exc)
    return " ".join(text.split())


class GatewayCommand(BaseCommand):
    """A management command that keeps the CLI contract (module docstring)."""

    # Errors a service raises for input it refuses: shown as one line, never a traceback.
    refused_input_errors: tuple[type[BaseException], ...] = (
        ValidationError,
        PermissionDenied,
        ObjectDoesNotExist,
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # Argument errors raise CommandError (exit 1 below) instead of printing the usage and
        # exiting with 2; --help still prints the usage and exits 0.
        parser.called_from_command_line = False
        return parser

    def execute(self, *args: Any, **options: Any) -> Any:
        try:
            return super().execute(*args, **options)
        except self.refused_input_errors as exc:
            raise CommandError(one_line(exc)) from exc
        except BrokenPipeError:
            if not getattr(self, "_called_from_command_line", False):
                raise
            # Handled here, while the database connection is still open: leaving this block
            # frees the traceback, so an open cursor (a streamed export) closes cleanly now
            # rather than after Django closed the connection.
            self._reader_gone = True
            return None

    def run_from_argv(self, argv: list[str]) -> None:
        try:
            super().run_from_argv(argv)
            if getattr(self, "_reader_gone", False):
                _quiet_broken_pipe()
        except CommandError as exc:
            # Raised while parsing the arguments, which Django does outside its own handler
            # (errors from handle() are printed by Django and exit there already).
            if "--traceback" in argv:
                raise
            message = one_line(exc).removeprefix("Error: ")
            self.stderr.write(f"CommandError: {message} (see {argv[1]} --help)")
            sys.exit(1)
        except BrokenPipeError:
            _quiet_broken_pipe()


def _quiet_broken_pipe() -> None:
    """The reader went away: point stdout at /dev/null so the interpreter's final flush does
    not raise again (the recipe of Python's signal module documentation), and exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(SIGPIPE_EXIT)


def organization_get(slug: str) -> Organization:
    org = Organization.objects.filter(slug=slug).first()
    if org is None:
        raise CommandError(f"no organization {slug!r} (create it with gateway_org {slug})")
    return org


def role_by_name(organization: Organization, name: str, scope: str) -> Role:
    """A built-in role or a custom role of `organization`, by name and scope."""
    role = Role.objects.for_organization(organization).filter(name=name).first()
    if role is None:
        choices = Role.objects.for_organization(organization).filter(scope=scope)
        raise CommandError(
            f"no role {name!r} in {organization.slug} "
            f"(choose from {', '.join(r.name for r in choices)})"
        )
    if role.scope != scope:
        raise CommandError(f"{name} is an {role.scope} role; a {scope} role is needed here")
    return role
