"""The per-day usage rollup: UsageDaily rebuilt from UsageRecord (both in tracing.models)."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from tracing.models import TOKEN_FIELDS, UsageDaily, UsageRecord, UsageRollupState

logger = logging.getLogger(__name__)

GROUP_COLUMNS = ("organization_id", "workspace_id", "key_id", "user_id", "model")
BATCH = 2000


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


@transaction.atomic
def usage_rollup_refresh(*, recheck_days: int = 2, now: dt.datetime | None = None) -> int:
    """Rebuild UsageDaily for the closed days not yet rolled up, plus the last `recheck_days`
    closed days again (usage of a call can arrive late: the recorder's spool replays after a
    broker outage). Today (UTC) is never rolled up: summaries read its raw rows.

    Guarantees: after it returns, every day before today is in UsageDaily with exactly the sums
    of its UsageRecord rows as they were at that moment; running it twice is harmless. The
    first run backfills everything. Usage older than `recheck_days` that arrives later still
    needs a run with a larger `recheck_days`. Returns the number of daily rows written.
    """
    today = (now or timezone.now()).astimezone(dt.UTC).date()
    state = UsageRollupState.objects.select_for_update().first() or UsageRollupState()
    if state.rolled_through is None:
        first = (
            UsageRecord.objects.order_by("started_at").values_list("started_at", flat=True).first()
        )
        start = first.astimezone(dt.UTC).date() if first else today
    else:
        start = min(state.rolled_through, today) - dt.timedelta(days=recheck_days)
    UsageDaily.objects.filter(day__gte=start, day__lt=today).delete()
    sums = (
        UsageRecord.objects.filter(
            started_at__gte=_day_start(start), started_at__lt=_day_start(today)
        )
        .order_by()
        .annotate(day=TruncDate("started_at", tzinfo=dt.UTC))
        .values("day", *GROUP_COLUMNS)
        .annotate(
            n=Count("*"),
            cost=Sum("cost_usd"),
            unpriced=Count("started_at", filter=Q(cost_usd__isnull=True)),
            **{f"{name}_sum": Sum(name) for name in TOKEN_FIELDS},
        )
    )
    written = 0
    batch: list[UsageDaily] = []
    for row in sums.iterator(chunk_size=BATCH):
        batch.append(
            UsageDaily(
                day=row["day"],
                calls=row["n"],
                cost_usd=row["cost"],
                unpriced_calls=row["unpriced"],
                **{name: row[name] for name in GROUP_COLUMNS},
                **{name: row[f"{name}_sum"] or 0 for name in TOKEN_FIELDS},
            )
        )
        if len(batch) >= BATCH:
            written += len(UsageDaily.objects.bulk_create(batch))
            batch = []
    written += len(UsageDaily.objects.bulk_create(batch))
    state.rolled_through = today
    state.refreshed_at = timezone.now()
    state.save()
    logger.info("usage rollup: %d daily rows for %s..%s", written, start, today)
    return written
