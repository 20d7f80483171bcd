"""manage.py gateway_run_totals_rebuild: recompute the runs list's hourly totals from the runs.

Ingestion and retention keep them exact by themselves; this is for runs written any other way
(a restore of the runs table, a bulk load). On PostgreSQL the runs table is locked against
writes while it runs (about 40 s per 10 million runs); records wait in the Redis stream.
"""

from __future__ import annotations

from typing import Any

from orgs.cli import GatewayCommand
from tracing.rollup import run_totals_rebuild


class Command(GatewayCommand):
    help = "Recompute the hourly run totals the runs list reads, from every stored run."

    def handle(self, *args: Any, **options: Any) -> None:
        written = run_totals_rebuild()
        self.stdout.write(f"run totals: {written} hourly rows written")
