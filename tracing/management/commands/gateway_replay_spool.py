"""manage.py gateway_replay_spool: ship every call record waiting in GATEWAY_SPOOL_DIR now.

The gateway replays its spool on the next successful ship by itself; this is for an operator
who wants it done (or checked) without waiting for traffic, e.g. after an outage at night."""

from __future__ import annotations

from typing import Any

import redis
from django.core.management.base import CommandError
from django.db import DatabaseError

from orgs.cli import GatewayCommand
from tracing.shipping import spool_flush


class Command(GatewayCommand):
    help = "Replay the local spool of call records into Redis (or the database without Redis)."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            count = spool_flush()
        except (redis.RedisError, DatabaseError) as exc:
            raise CommandError(f"could not replay the spool, it is kept for later: {exc}") from exc
        self.stdout.write(f"replayed {count} call record(s)")
