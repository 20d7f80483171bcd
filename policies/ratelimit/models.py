"""Rate limits: requests and/or tokens per minute or per hour, on any policy subject.

- `RateLimitPolicy` limits one subject (organization, workspace, API key, user, customer) or,
  as a default per member, every member of a group (policies/subjects.py has the table).
- `RateLimit` is one window of a policy (minute or hour) with its request and/or token limit;
  a policy holds several, each enforced on its own.
- `RateLimitCounter` / `RateLimitEntry` are the live counters when no Redis is configured (the
  embedded mode): a sliding log per (policy, member, window, metric) that every gateway process
  updates atomically (policies/ratelimit/store_db.py). With Redis the same log lives there.

Windows slide: a limit of 100 requests per minute admits at most 100 calls in ANY 60 seconds,
and a refused caller is told when the oldest of them leaves the window (Retry-After).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from policies.subjects import MEMBER_MAX_LENGTH, CustomerPolicySubject


class RateWindow(models.TextChoices):
    MINUTE = "minute", "Per minute"
    HOUR = "hour", "Per hour"


WINDOW_SECONDS = {RateWindow.MINUTE: 60, RateWindow.HOUR: 3600}


class Metric(models.TextChoices):
    REQUESTS = "requests", "Requests"
    TOKENS = "tokens", "Tokens (input + output)"


class RateLimitPolicy(CustomerPolicySubject):
    """Request and token limits on one scope (kinds and subjects as for spend limits)."""

    name = models.CharField(max_length=200)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("organization__slug", "name")
        verbose_name = "rate limit"
        verbose_name_plural = "rate limits"
        constraints = [
            models.UniqueConstraint(
                fields=("organization", "name"), name="ratelimit_policy_unique_name"
            )
        ]

    def __str__(self) -> str:
        return self.name


class RateLimit(models.Model):
    policy = models.ForeignKey(RateLimitPolicy, on_delete=models.CASCADE, related_name="limits")
    window = models.CharField(max_length=10, choices=RateWindow.choices)
    max_requests = models.PositiveIntegerField("requests", null=True, blank=True)
    max_tokens = models.PositiveBigIntegerField("tokens", null=True, blank=True)

    class Meta:
        ordering = ("policy", "window")
        constraints = [
            models.UniqueConstraint(fields=("policy", "window"), name="ratelimit_window_unique"),
            models.CheckConstraint(
                condition=models.Q(max_requests__isnull=False) | models.Q(max_tokens__isnull=False),
                name="ratelimit_requests_or_tokens",
            ),
        ]

    def __str__(self) -> str:
        parts = []
        if self.max_requests is not None:
            parts.append(f"{self.max_requests} requests")
        if self.max_tokens is not None:
            parts.append(f"{self.max_tokens} tokens")
        return f"{' and '.join(parts)} per {self.window}"


class RateLimitCounter(models.Model):
    """One sliding log in the embedded mode; its row is the lock reservations take. `level` is
    the sum of its entries' amounts and `oldest_ms` a time no entry is older than (None: no
    entry), both kept by policies/ratelimit/store_db.py under that lock."""

    policy = models.ForeignKey(RateLimitPolicy, on_delete=models.CASCADE, related_name="counters")
    member = models.CharField(max_length=MEMBER_MAX_LENGTH, blank=True)
    window = models.CharField(max_length=10, choices=RateWindow.choices)
    metric = models.CharField(max_length=10, choices=Metric.choices)
    level = models.BigIntegerField(default=0)
    oldest_ms = models.BigIntegerField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("policy", "member", "window", "metric"), name="ratelimit_counter_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.policy} {self.member} {self.metric}/{self.window}"


class RateLimitEntry(models.Model):
    """One call on a counter: `amount` (1 request, or tokens: the estimate until the call
    settles, then the actual count) at `at_ms` (epoch milliseconds). Entries older than the
    window no longer count and are deleted by the next reservation on the counter that finds
    its oldest entry out of the window."""

    counter = models.ForeignKey(RateLimitCounter, on_delete=models.CASCADE, related_name="entries")
    reservation_id = models.CharField(max_length=32)
    at_ms = models.BigIntegerField()
    amount = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=("counter", "at_ms"), name="ratelimit_entry_counter_at"),
            models.Index(fields=("reservation_id",), name="ratelimit_entry_res"),
        ]

    def __str__(self) -> str:
        return f"{self.reservation_id} {self.amount}@{self.at_ms}"
