"""manage.py gateway_record_writer: store spooled call records in the database (no Redis).

The gateway's serving processes start it by themselves when none runs (tracing/writer.py) and
it stops once they are all gone and the spool is empty. `--forever` keeps it running for an
operator who supervises it as a service of its own; it then stops at SIGTERM once the spool is
empty. A second SIGTERM or SIGINT stops it at once (what is left stays spooled for the next
writer)."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import CommandParser

from orgs.cli import GatewayCommand
from tracing.writer import writer_run


class Command(GatewayCommand):
    help = "Write spooled call records into the database (started by the gateway when needed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--forever", action="store_true", help="keep running until SIGTERM, not until idle"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()

        def on_signal(signum: int, frame: Any) -> None:
            if stop.is_set():
                raise SystemExit(1)
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        replayed = writer_run(stop=stop, forever=options["forever"])
        if replayed < 0:
            self.stdout.write("another record writer is running")
        else:
            self.stdout.write(f"stored {replayed} call record(s)")
