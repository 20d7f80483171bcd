"""manage.py gateway_export_runs ORG/WS [--project gateway] [--since ISO] [--until ISO]
[--format jsonl] [--out FILE]: write a project's runs, oldest first, one JSON object a line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser
from django.utils.dateparse import parse_datetime

from orgs.cli import GatewayCommand
from orgs.services import workspace_get_by_path
from tracing.export import runs_write_jsonl
from tracing.models import DEFAULT_PROJECT, Run, TracingProject


def _when(value: str | None, name: str) -> dt.datetime | None:
    if value is None:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        raise CommandError(f"--{name} must be an ISO 8601 date-time (e.g. 2026-01-31T00:00:00Z)")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


class Command(GatewayCommand):
    help = "Export the runs of a workspace's tracing project as JSON lines."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("workspace", help="ORG/WS")
        parser.add_argument("--project", default=DEFAULT_PROJECT)
        parser.add_argument("--since", help="runs started at or after (ISO 8601)")
        parser.add_argument("--until", help="runs started before (ISO 8601)")
        parser.add_argument("--format", default="jsonl", help="only jsonl")
        parser.add_argument("--out", help="file to write (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["format"] != "jsonl":
            raise CommandError(f"unsupported --format {options['format']!r}: use jsonl")
        try:
            workspace = workspace_get_by_path(options["workspace"])
        except ValidationError as exc:
            raise CommandError(exc.messages[0]) from exc
        project = TracingProject.objects.filter(
            workspace=workspace, name=options["project"]
        ).first()
        if project is None:
            raise CommandError(f"no project {options['project']!r} in {options['workspace']}")
        runs = Run.objects.filter(project=project).order_by("started_at", "id")
        since, until = _when(options["since"], "since"), _when(options["until"], "until")
        if since is not None:
            runs = runs.filter(started_at__gte=since)
        if until is not None:
            runs = runs.filter(started_at__lt=until)
        rows = runs.iterator(chunk_size=2000)
        if options["out"]:
            with Path(options["out"]).open("wb") as out:
                count = runs_write_jsonl(rows, out.write, project_name=project.name)
            self.stderr.write(f"exported {count} run(s) to {options['out']}")
        else:
            count = runs_write_jsonl(
                rows,
                lambda line: self.stdout.write(line.decode(), ending=""),
                project_name=project.name,
            )
            self.stderr.write(f"exported {count} run(s)")
