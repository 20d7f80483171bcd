"""Spend limits: policies, their windows, and the counters that enforce them.

- `SpendPolicy` caps a scope (organization, workspace, API key, user). A `total` policy caps one
  subject; a `default_per_member` policy gives every member of a group (the organization, or one
  workspace) its own cap, e.g. "each API key in workspace W: $200/month".
- `SpendWindow` is one calendar window (UTC) with its `limit_usd`; each is enforced on its own.
- `SpendPolicyMember` materialises a default-per-member policy for one member on first use, so
  the admin can list who is under it and what each has spent.
- `SpendTotal` is the truth aggregated from `tracing.UsageRecord` by a Celery task: spend per
  (policy, member, window, window start). Live counters in Redis are rebuilt from it.
- `SpendCounter` / `SpendReservation` are the live counters when no Redis is configured (the
  embedded mode): rows every gateway process updates atomically (policies/spend/store_db.py).

Money on the enforcement path is an integer of micro-dollars (1e-6 USD) so that Redis and SQL
arithmetic are exact; the truth (`SpendTotal.spent_usd`) keeps the Decimal of the usage rows.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from policies.subjects import MEMBER_MAX_LENGTH, CustomerPolicySubject


class Window(models.TextChoices):
    MONTHLY = "monthly", "Monthly (1st, 00:00 UTC)"
    WEEKLY = "weekly", "Weekly (Monday, 00:00 UTC)"
    DAILY = "daily", "Daily (00:00 UTC)"
    HOURLY = "hourly", "Hourly"


class SpendPolicy(CustomerPolicySubject):
    """A USD cap on one scope. Which fields name the subject depends on scope and kind (the
    table in policies/subjects.py): a `total` policy caps one subject; a `default_per_member`
    one gives every member of a group its own cap. A member's own `total` policy of the same
    scope replaces the default for that member (it may raise the cap); broader policies still
    apply to it, so nothing loosens a broader cap.
    """

    class Unpriced(models.TextChoices):
        REFUSE = "refuse", "Refuse calls to models without a price"
        FALLBACK = "fallback", "Charge the fallback price"

    name = models.CharField(max_length=200)
    enabled = models.BooleanField(default=True)
    unpriced_models = models.CharField(
        max_length=10,
        choices=Unpriced.choices,
        default=Unpriced.REFUSE,
        help_text="What to do with a call to a model missing from the price table.",
    )
    fallback_input_per_mtok = models.DecimalField(
        "fallback input USD / 1M tokens", max_digits=12, decimal_places=6, null=True, blank=True
    )
    fallback_output_per_mtok = models.DecimalField(
        "fallback output USD / 1M tokens", max_digits=12, decimal_places=6, null=True, blank=True
    )
    alert_thresholds = models.JSONField(
        default=list,
        blank=True,
        help_text="Alert when a window's spend reaches these percentages of its limit, e.g. 50, 80, 100.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("organization__slug", "name")
        verbose_name = "spend limit"
        verbose_name_plural = "spend limits"
        constraints = [
            models.UniqueConstraint(
                fields=("organization", "name"), name="spend_policy_unique_name"
            )
        ]

    def __str__(self) -> str:
        return self.name


class SpendWindow(models.Model):
    policy = models.ForeignKey(SpendPolicy, on_delete=models.CASCADE, related_name="windows")
    window = models.CharField(max_length=10, choices=Window.choices)
    limit_usd = models.DecimalField("limit (USD)", max_digits=14, decimal_places=6)

    class Meta:
        ordering = ("policy", "window")
        constraints = [
            models.UniqueConstraint(fields=("policy", "window"), name="spend_window_unique"),
            models.CheckConstraint(
                condition=models.Q(limit_usd__gte=0), name="spend_window_limit_nonnegative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.window} ${self.limit_usd}"


class SpendPolicyMember(models.Model):
    """One member under a default-per-member policy, created on the member's first call.

    `member` is "ws:<id>", "key:<id>", "user:<id>" or "cust:<workspace id>:<customer>", the
    same string the counters use."""

    policy = models.ForeignKey(SpendPolicy, on_delete=models.CASCADE, related_name="members")
    member = models.CharField(max_length=MEMBER_MAX_LENGTH)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("policy", "member")
        constraints = [
            models.UniqueConstraint(fields=("policy", "member"), name="spend_member_unique")
        ]

    def __str__(self) -> str:
        return f"{self.policy} / {self.member}"


class SpendTotal(models.Model):
    """Spend of one (policy, member, window, window start) summed from UsageRecord rows whose
    started_at is in [window_start, computed_until). Recomputed, never incremented, so a rerun
    or a late usage row cannot double count."""

    policy = models.ForeignKey(SpendPolicy, on_delete=models.CASCADE, related_name="totals")
    member = models.CharField(max_length=MEMBER_MAX_LENGTH, blank=True)  # "" for a total policy
    window = models.CharField(max_length=10, choices=Window.choices)
    window_start = models.DateTimeField()
    spent_usd = models.DecimalField(max_digits=20, decimal_places=10, default=0)
    computed_until = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("policy", "member", "window", "window_start"), name="spend_total_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.policy} {self.member} {self.window}@{self.window_start:%Y-%m-%d %H:%M}"


class SpendCounter(models.Model):
    """A live counter in the embedded mode (no Redis): settled spend plus open reservations,
    in micro-dollars. Updated only by policies/spend/store_db.py (conditional UPDATEs)."""

    policy = models.ForeignKey(SpendPolicy, on_delete=models.CASCADE, related_name="counters")
    member = models.CharField(max_length=MEMBER_MAX_LENGTH, blank=True)
    window = models.CharField(max_length=10, choices=Window.choices)
    window_start = models.DateTimeField()
    spent_micros = models.BigIntegerField(default=0)
    reserved_micros = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("policy", "member", "window", "window_start"), name="spend_counter_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.policy} {self.member} {self.window}@{self.window_start:%Y-%m-%d %H:%M}"


class SpendReservation(models.Model):
    """An open reservation on a SpendCounter (embedded mode); released at settlement or, when
    its process died, once `expires_at` passes."""

    reservation_id = models.CharField(max_length=32)
    counter = models.ForeignKey(SpendCounter, on_delete=models.CASCADE, related_name="reservations")
    amount_micros = models.BigIntegerField()
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=("counter", "expires_at"), name="spend_res_counter_exp"),
            models.Index(fields=("reservation_id",), name="spend_res_id"),
        ]

    def __str__(self) -> str:
        return f"reservation {self.reservation_id}"


# --- Budget alerts ------------------------------------------------------------------------------
# A policy's `alert_thresholds` (percentages of each window's limit) are checked where a charge is
# settled (policies/spend/gate.py); the first process that sees a threshold reached claims it by
# inserting a SpendAlert row, whose unique constraint lets exactly one insert win per (policy,
# member, window, window start, threshold) whatever the number of processes, hosts or workers.
# The same transaction creates one SpendAlertDelivery per channel; policies/spend/alerts.py
# delivers them at least once (Celery with retries and backoff, in-process without a broker).


class SpendAlertChannel(models.Model):
    """Where a policy's alerts go: a webhook (signed JSON), a Slack incoming webhook or an
    e-mail address. A webhook's signing secret is stored encrypted and shown once."""

    class Kind(models.TextChoices):
        WEBHOOK = "webhook", "Webhook (signed JSON)"
        SLACK = "slack", "Slack incoming webhook"
        EMAIL = "email", "E-mail"

    policy = models.ForeignKey(SpendPolicy, on_delete=models.CASCADE, related_name="alert_channels")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    target = models.CharField("URL or e-mail address", max_length=500)
    secret_ciphertext = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("policy", "kind", "target")
        verbose_name = "alert channel"
        constraints = [
            models.UniqueConstraint(
                fields=("policy", "kind", "target"), name="spend_alert_channel_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.target}"


class SpendAlert(models.Model):
    """One threshold reached in one window by one subject: the claim that makes it one alert."""

    policy = models.ForeignKey(SpendPolicy, on_delete=models.CASCADE, related_name="alerts")
    member = models.CharField(max_length=40, blank=True)  # "" for a total policy
    window = models.CharField(max_length=10, choices=Window.choices)
    window_start = models.DateTimeField()
    threshold = models.PositiveSmallIntegerField()  # percent of the window's limit
    spent_usd = models.DecimalField(max_digits=20, decimal_places=6)
    limit_usd = models.DecimalField(max_digits=14, decimal_places=6)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = "budget alert"
        constraints = [
            models.UniqueConstraint(
                fields=("policy", "member", "window", "window_start", "threshold"),
                name="spend_alert_once",
            )
        ]
        indexes = [models.Index(fields=("created_at",), name="spend_alert_created")]

    def __str__(self) -> str:
        return f"{self.policy} {self.threshold}% {self.window}@{self.window_start:%Y-%m-%d %H:%M}"


class SpendAlertDelivery(models.Model):
    """One alert to one channel, and every attempt's outcome (the delivery log)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed (gave up)"

    alert = models.ForeignKey(SpendAlert, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey(
        SpendAlertChannel, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=SpendAlertChannel.Kind.choices)
    target = models.CharField(max_length=500)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = "alert delivery"
        verbose_name_plural = "alert deliveries"
        indexes = [
            models.Index(fields=("status", "next_attempt_at"), name="spend_alert_delivery_due")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.target}: {self.status}"
