"""Tracing projects, runs and the lean usage rows.

Every gateway call becomes one `Run` (the full trace, shown in the admin) and one `UsageRecord`
(the few columns spend accounting and usage summaries aggregate). They are separate tables so
that aggregation scans narrow rows, and so that runs (large, content-bearing) can be pruned much
sooner than the usage that spend windows and invoices need.

Caller columns (organization, workspace, key, user) are foreign keys with db_constraint=False and
on_delete=DO_NOTHING: a run is a historical record that must outlive the key or user it names
(the run keeps `key_prefix` as text), ingestion must never fail a whole batch because a key was
deleted between the call and the insert, and bulk inserts skip one index probe per FK per row.
The ORM relation is still there for joins and admin filters. Code reading `run.key` must expect
the row to be gone (use `key_id`/`key_prefix`, or select_related, which yields None).
Only `Run.project` is a real constraint: projects are created by ingestion in the same
transaction, and deleting a workspace deletes its projects and their runs.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from hotpath.callrecord import PROJECT_NAME_RE
from orgs.models import ApiKey, Organization, Workspace

DEFAULT_PROJECT = "gateway"


def project_name_is_valid(name: str) -> bool:
    """The rule the proxy applies to `x-gateway-project` (one definition, in callrecord)."""
    return bool(PROJECT_NAME_RE.match(name))


def _loose_fk(model: type[models.Model] | str, **kwargs: object) -> models.ForeignKey:
    return models.ForeignKey(
        model,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # the composite indexes below start with these columns where needed
        **kwargs,
    )


class TracingProjectQuerySet(models.QuerySet["TracingProject"]):
    def for_workspace(self, workspace: Workspace) -> TracingProjectQuerySet:
        return self.filter(workspace=workspace)


class TracingProject(models.Model):
    """A named bucket of runs inside one workspace; `gateway` is created on first use."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="tracing_projects"
    )
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)

    objects = TracingProjectQuerySet.as_manager()

    class Meta:
        ordering = ("workspace_id", "name")
        verbose_name = "project"
        constraints = [
            models.UniqueConstraint(
                fields=("workspace", "name"), name="tracing_project_unique_name"
            )
        ]

    def __str__(self) -> str:
        return self.name


_TOTALS = ("input_tokens", "output_tokens", "cost_usd")
# Every token count a run, a usage row and a daily total carry (pricing.table.Usage): input
# and output totals, then their breakdowns (parts of the totals, never added to them).
TOKEN_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "audio_input_tokens",
    "audio_output_tokens",
)
TOKEN_HELP = {
    "input_tokens": "All input tokens, cache reads and cache writes included.",
    "output_tokens": "All output tokens, reasoning and audio included.",
    "cache_read_tokens": "Part of the input read from the provider's prompt cache.",
    "cache_write_tokens": "Part of the input written to the provider's prompt cache.",
    "reasoning_tokens": "Part of the output spent on reasoning.",
    "audio_input_tokens": "Part of the input that was audio.",
    "audio_output_tokens": "Part of the output that was audio.",
}


class TokenCounts(models.Model):
    """What a call used and cost, as a run and its usage row both store it (TOKEN_FIELDS)."""

    input_tokens = models.PositiveIntegerField(default=0, help_text=TOKEN_HELP["input_tokens"])
    output_tokens = models.PositiveIntegerField(default=0, help_text=TOKEN_HELP["output_tokens"])
    cache_read_tokens = models.PositiveIntegerField(
        default=0, help_text=TOKEN_HELP["cache_read_tokens"]
    )
    cache_write_tokens = models.PositiveIntegerField(
        default=0, help_text=TOKEN_HELP["cache_write_tokens"]
    )
    reasoning_tokens = models.PositiveIntegerField(
        default=0, help_text=TOKEN_HELP["reasoning_tokens"]
    )
    audio_input_tokens = models.PositiveIntegerField(
        default=0, help_text=TOKEN_HELP["audio_input_tokens"]
    )
    audio_output_tokens = models.PositiveIntegerField(
        default=0, help_text=TOKEN_HELP["audio_output_tokens"]
    )
    cost_usd = models.DecimalField(max_digits=20, decimal_places=10, null=True, blank=True)
    price_missing = models.BooleanField(default=False)
    # The provider's counts were missing or implausible: the charged usage is the gateway's
    # (pricing.usage); usage_note says what was estimated or corrected.
    usage_estimated = models.BooleanField(default=False)

    class Meta:
        abstract = True


class RunQuerySet(models.QuerySet["Run"]):
    def for_workspace(self, workspace: Workspace) -> RunQuerySet:
        return self.filter(workspace=workspace)


class Run(TokenCounts):
    """One gateway call: success, upstream error or policy block."""

    class Status(models.TextChoices):
        SUCCESS = "success", "Success"
        ERROR = "error", "Error"
        BLOCKED = "blocked", "Blocked"

    class PolicyOutcome(models.TextChoices):
        NONE = "none", "No policy applied"
        PASSED = "passed", "Passed"
        REDACTED = "redacted", "Passed with redaction"
        BLOCKED = "blocked", "Blocked by a policy"

    run_id = models.UUIDField(unique=True, editable=False)  # the idempotency key of ingestion
    trace_id = models.CharField(max_length=64)
    project = models.ForeignKey(
        TracingProject, on_delete=models.CASCADE, related_name="runs", db_index=False
    )
    organization = _loose_fk(Organization)
    workspace = _loose_fk(Workspace)
    key = _loose_fk(ApiKey)
    key_prefix = models.CharField(max_length=64, blank=True)
    user = _loose_fk(settings.AUTH_USER_MODEL)
    # The application's end customer (x-gateway-customer), "" when the call named none.
    customer = models.CharField(max_length=128, blank=True, default="")
    name = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    first_token_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices)
    http_status = models.PositiveSmallIntegerField(default=200)
    error = models.TextField(blank=True)
    dialect = models.CharField(max_length=16, blank=True)
    provider = models.CharField(max_length=32, blank=True)
    model = models.CharField(max_length=200, blank=True)
    method = models.CharField(max_length=8, blank=True)
    path = models.CharField(max_length=500, blank=True)
    stream = models.BooleanField(default=False)
    usage_note = models.CharField(max_length=500, blank=True)
    policy_outcome = models.CharField(
        max_length=10, choices=PolicyOutcome.choices, default=PolicyOutcome.NONE
    )
    policy_results = models.JSONField(default=dict, blank=True)
    redaction_counts = models.JSONField(default=dict, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    request_metadata = models.JSONField(default=dict, blank=True)
    # Only when the workspace's trace_content is on; already redacted by the proxy.
    request_content = models.JSONField(null=True, blank=True)
    response_content = models.JSONField(null=True, blank=True)

    objects = RunQuerySet.as_manager()

    class Meta:
        ordering = ("-started_at", "-id")
        indexes = [
            # The runs list: the rows of one workspace (or project), newest first (the id
            # breaks ties: the admin's deterministic ordering adds it), optionally narrowed by
            # one filter. Every index INCLUDEs what the list's totals read (tokens, cost) and
            # the other scope column, so PostgreSQL computes the totals of a filtered time
            # range from the index alone (an index-only scan, no heap fetch per run).
            models.Index(
                fields=("workspace", "-started_at", "-id"),
                include=(*_TOTALS, "project"),
                name="run_ws_start_totals",
            ),
            models.Index(
                fields=("project", "-started_at", "-id"),
                include=(*_TOTALS, "workspace"),
                name="run_project_start_totals",
            ),
            # A filter on one value of a column. Where most runs hold one value (a success,
            # no policy, no customer, no assigned user) only the other runs are indexed: a
            # filter on that common value reads the workspace's index above and finds its
            # rows at once, and every ingested run of it skips one index insert (about 2 us
            # of PostgreSQL's CPU each, a quarter of what storing a run costs it).
            *(
                models.Index(
                    fields=("workspace", column, "-started_at", "-id"),
                    include=(*_TOTALS, "project"),
                    name=f"run_ws_{column}"[:30],
                    condition=condition,
                )
                for column, condition in (
                    ("status", ~Q(status="success")),
                    ("model", None),
                    ("policy_outcome", ~Q(policy_outcome="none")),
                    ("customer", ~Q(customer="")),
                )
            ),
            *(
                models.Index(
                    fields=(column, "-started_at", "-id"),
                    include=(*_TOTALS, "workspace", "project"),
                    name=f"run_{column}_start_totals",
                    condition=condition,
                )
                for column, condition in (("key", None), ("user", Q(user__isnull=False)))
            ),
            # Retention prune scans by age alone.
            models.Index(fields=("started_at",), name="run_start"),
            # The search by exact trace id. One plain index: PostgreSQL's second,
            # pattern-matching one (Django's default for an indexed CharField) served no
            # query and cost every ingested run one more random index insert.
            models.Index(fields=("trace_id",), name="run_trace_id"),
        ]

    def __str__(self) -> str:
        return f"{self.name or 'run'} {self.run_id}"

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class UsageRecord(TokenCounts):
    """One narrow row per call for spend accounting and usage summaries (never content).

    Kept longer than runs (GATEWAY_USAGE_RETENTION_DAYS, at least 40 days) because spend
    windows (monthly caps) are computed from it.
    """

    run_id = models.UUIDField(unique=True, editable=False)
    # On PostgreSQL the idempotency key is UNIQUE (started_at, run_id) (tracing 0014: inserts
    # land at its newest end), which also serves time ranges: no index of its own there.
    started_at = models.DateTimeField(db_index=True)
    organization = _loose_fk(Organization)
    workspace = _loose_fk(Workspace)
    key = _loose_fk(ApiKey)
    user = _loose_fk(settings.AUTH_USER_MODEL)
    customer = models.CharField(max_length=128, blank=True, default="")
    provider = models.CharField(max_length=32, blank=True)
    model = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=Run.Status.choices)

    class Meta:
        ordering = ("-started_at",)
        indexes = [
            # INCLUDE (PostgreSQL): usage summaries of a workspace's time range
            # (api.usage) and spend windows sum these columns from the index alone, with no
            # heap visit per row (bench/usage_summary_bench.py: a 7-day hourly summary over
            # 1,000,000 rows, about 200 ms without, 50 ms with).
            models.Index(
                fields=("workspace", "started_at"),
                include=(
                    "organization",
                    "key",
                    "user",
                    "model",
                    "cost_usd",
                    *TOKEN_FIELDS,
                ),
                name="usage_ws_start",
            ),
            models.Index(fields=("organization", "started_at"), name="usage_org_start"),
            models.Index(fields=("key", "started_at"), name="usage_key_start"),
            # Most calls name no assigned user and no customer: they skip these two.
            models.Index(
                fields=("user", "started_at"),
                name="usage_user_start",
                condition=Q(user__isnull=False),
            ),
            models.Index(
                fields=("workspace", "customer", "started_at"),
                name="usage_ws_customer_start",
                condition=~Q(customer=""),
            ),
        ]

    def __str__(self) -> str:
        return f"usage {self.run_id}"


# --- Per-day usage totals -----------------------------------------------------------------------
# A derived cache that keeps usage summaries fast over millions of rows. A summary over a month
# of an organization's calls would aggregate every UsageRecord row in the range (a million rows
# take seconds on a small PostgreSQL). UsageDaily holds the same sums per (day, workspace, key,
# user, model), tens of times fewer rows, so daily and weekly summaries read it for the closed
# days and the raw rows only for the open part (api.usage). It is rebuilt from UsageRecord by
# tracing.rollup.usage_rollup_refresh and written nowhere else; deleting it loses nothing.


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
    audio_input_tokens = models.BigIntegerField(default=0)
    audio_output_tokens = models.BigIntegerField(default=0)
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


# --- Per-hour run totals ------------------------------------------------------------------------
# What the runs list shows above its rows (calls, tokens, cost) for any time range, without
# aggregating every run in it: 10 million runs take seconds to sum, their hourly totals per
# (workspace, project, key, user, model, status, policy outcome) milliseconds. Unlike UsageDaily
# (rebuilt from usage rows every few minutes, for closed days only) these totals are maintained
# in the same transaction as the runs themselves: ingestion adds the runs it stored (the new
# ones only, so a redelivered record counts once) and retention subtracts the runs it removes.
# So they are exact at every moment, today's hour included, and a range's totals are the sum of
# its whole hours plus the raw runs of its partial first and last hour
# (tracing.selectors.run_totals_of). Runs written any other way (a bench's generator, a restore)
# need tracing.rollup.run_totals_rebuild. key_id and user_id are 0 for "none" (a unique key
# cannot hold NULL on every database).


class RunHourly(models.Model):
    hour = models.DateTimeField()
    # Deleted with its workspace, in the same transaction (as the workspace's projects and
    # runs are); no database constraint, so ingestion never checks it row by row.
    workspace = models.ForeignKey(
        Workspace,
        on_delete=models.CASCADE,
        db_constraint=False,
        db_index=False,  # run_hourly_ws_hour starts with it
        related_name="+",
    )
    project_id = models.BigIntegerField()
    key_id = models.BigIntegerField(default=0)
    user_id = models.BigIntegerField(default=0)
    model = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10)
    policy_outcome = models.CharField(max_length=10)
    calls = models.BigIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=30, decimal_places=10, default=0)  # priced calls
    unpriced = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = "hourly run total"
        constraints = [
            models.UniqueConstraint(
                fields=(
                    "hour",
                    "workspace_id",
                    "project_id",
                    "key_id",
                    "user_id",
                    "model",
                    "status",
                    "policy_outcome",
                ),
                name="run_hourly_unique",
            )
        ]
        indexes = [models.Index(fields=("workspace_id", "hour"), name="run_hourly_ws_hour")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H:00} ws={self.workspace_id} {self.model}: {self.calls}"


class SecurityEvent(models.Model):
    """Calls the gateway refused before a workspace was known (hotpath.refusals), counted per
    minute, reason, key prefix and client address. Never key material: `key_prefix` is the
    public lookup part of a well-formed gateway key, empty for anything else. The organization
    is known only for an organization-scoped key; the other rows are the operator's
    (superusers) to read. Counts are added up at ingestion, so a batch delivered twice after a
    crash counts twice (the stream and spool are at-least-once): a security signal, not a bill.
    """

    class Reason(models.TextChoices):
        MISSING_KEY = "missing_key", "no key"
        INVALID_KEY = "invalid_key", "unknown, malformed, expired or revoked key"
        ORGANIZATION_KEY = "organization_key", "organization-scoped key"
        PATH_NOT_ALLOWED = "path_not_allowed", "path not allow-listed"

    minute = models.DateTimeField()
    reason = models.CharField(max_length=32, choices=Reason.choices)
    key_prefix = models.CharField(max_length=64, blank=True)
    client_address = models.CharField(max_length=64, blank=True)
    organization = _loose_fk(Organization)
    path = models.CharField(max_length=200, blank=True)  # the first one refused that minute
    count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("-minute", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=("minute", "reason", "key_prefix", "client_address"),
                name="tracing_security_event_unique",
            )
        ]
        indexes = [
            models.Index(fields=("organization", "minute"), name="security_event_org_minute"),
        ]

    def __str__(self) -> str:
        return f"{self.count} {self.reason} at {self.minute:%Y-%m-%d %H:%M}"
