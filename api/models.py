"""Per-day usage totals: a derived cache that keeps usage summaries fast over millions of rows.

A summary over a month of an organization's calls would aggregate every `tracing.UsageRecord`
row in the range (a million rows take seconds on a small PostgreSQL). `UsageDaily` holds the
same sums per (day, workspace, key, user, model), which is tens of times fewer rows, so daily
and weekly summaries read it for the closed days and read the raw rows only for the open part
(see api.usage). It is rebuilt from UsageRecord by api.services.usage_rollup_refresh and never
written anywhere else; deleting it loses nothing.
"""

from __future__ import annotations

from django.db import models


class UsageDaily(models.Model):
    day = models.DateField()
    organization_id = models.BigIntegerField(null=True)
    workspace_id = models.BigIntegerField(null=True)
    key_id = models.BigIntegerField(null=True)
    user_id = models.BigIntegerField(null=True)
    model = models.CharField(max_length=200, blank=True)
    calls = models.BigIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cache_read_tokens = models.BigIntegerField(default=0)
    cache_write_tokens = models.BigIntegerField(default=0)
    reasoning_tokens = models.BigIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=30, decimal_places=10, null=True)
    unpriced_calls = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = "daily usage total"
        indexes = [
            models.Index(fields=("workspace_id", "day"), name="usagedaily_ws_day"),
            models.Index(fields=("organization_id", "day"), name="usagedaily_org_day"),
            models.Index(fields=("day",), name="usagedaily_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} ws={self.workspace_id} {self.model}"


class UsageRollupState(models.Model):
    """One row: every day before `rolled_through` is in UsageDaily (None: nothing rolled up yet,
    summaries read raw rows only)."""

    rolled_through = models.DateField(null=True)
    refreshed_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"usage rolled up through {self.rolled_through}"
