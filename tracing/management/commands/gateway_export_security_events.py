"""manage.py gateway_export_security_events [--org SLUG] [--since ISO] [--until ISO]
[--out FILE]: write the security events (calls refused before a workspace was known), oldest
first, one JSON object a line: minute (ISO 8601 UTC), reason, count, key_prefix,
client_address, path, organization_id. For a SIEM or a log pipeline; never key material."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from django.core.management.base import CommandError, CommandParser

from orgs.cli import GatewayCommand
from orgs.models import Organization
from tracing.management.commands.gateway_export_runs import _when
from tracing.models import SecurityEvent

FIELDS = ("reason", "count", "key_prefix", "client_address", "path", "organization_id")


class Command(GatewayCommand):
    help = "Export the security events (refused calls per minute) as JSON lines."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", help="only this organization's (organization-scoped keys)")
        parser.add_argument("--since", help="minutes at or after (ISO 8601)")
        parser.add_argument("--until", help="minutes before (ISO 8601)")
        parser.add_argument("--out", help="file to write (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        events = SecurityEvent.objects.order_by("minute", "id")
        if options["org"]:
            org = Organization.objects.filter(slug=options["org"]).first()
            if org is None:
                raise CommandError(f"no organization {options['org']!r}")
            events = events.filter(organization=org)
        since, until = _when(options["since"], "since"), _when(options["until"], "until")
        if since is not None:
            events = events.filter(minute__gte=since)
        if until is not None:
            events = events.filter(minute__lt=until)
        lines = (
            orjson.dumps(
                {"minute": event.minute.isoformat().replace("+00:00", "Z")}
                | {name: getattr(event, name) for name in FIELDS}
            )
            + b"\n"
            for event in events.iterator(chunk_size=2000)
        )
        count = 0
        if options["out"]:
            with Path(options["out"]).open("wb") as out:
                for line in lines:
                    out.write(line)
                    count += 1
        else:
            for line in lines:
                self.stdout.write(line.decode(), ending="")
                count += 1
        self.stderr.write(f"exported {count} security event(s)")
