"""manage.py gateway_usage_rollup [--recheck-days N]: rebuild the per-day usage totals now.

The beat task does this every 5 minutes with 2 days re-checked; after an outage whose usage
arrived late by more than that (a long spool replay), run it with a larger --recheck-days.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from orgs.cli import GatewayCommand
from tracing.rollup import usage_rollup_refresh


class Command(GatewayCommand):
    help = "Roll closed days of usage into the per-day totals the usage summaries read."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--recheck-days",
            type=int,
            default=2,
            help="Closed days to rebuild again before the last rolled-up day (default 2).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        written = usage_rollup_refresh(recheck_days=max(0, options["recheck_days"]))
        self.stdout.write(f"usage rollup: {written} daily rows written")
