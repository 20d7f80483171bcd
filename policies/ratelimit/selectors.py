"""Reads for rate limits: the organization's policies, and what each limit holds right now
(the live counters: Redis, or the database rows of the embedded mode)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from django.conf import settings

from policies.ratelimit.models import WINDOW_SECONDS, RateLimitCounter, RateLimitPolicy
from policies.ratelimit.store_redis import LEVELS_LUA, RateCounter

if TYPE_CHECKING:
    from django.db.models import QuerySet


def rate_limit_list_for_org(*, organization_id: int) -> QuerySet[RateLimitPolicy]:
    """The organization's rate limits with their limits (admin, API, CLI)."""
    return (
        RateLimitPolicy.objects.filter(organization_id=organization_id)
        .select_related("organization", "workspace", "api_key", "user")
        .prefetch_related("limits")
    )


def _counters(policy: RateLimitPolicy, member: str) -> list[RateCounter]:
    out = []
    for limit in policy.limits.all():
        for metric, value in (("requests", limit.max_requests), ("tokens", limit.max_tokens)):
            if value is not None:
                out.append(
                    RateCounter(
                        organization_id=policy.organization_id,
                        policy_id=policy.pk,
                        member=member,
                        window=limit.window,
                        metric=metric,
                        seconds=WINDOW_SECONDS[limit.window],
                        limit=value,
                        amount=0,
                    )
                )
    return out


def _levels(counters: list[RateCounter], now_ms: int) -> list[int] | None:
    """Each counter's use in the window ending now; None when Redis cannot be read."""
    if not counters:
        return []
    if not settings.REDIS_URL:
        from policies.ratelimit import store_db

        return store_db.levels(counters, now_ms=now_ms)
    from hotpath.redis_client import REDIS_ERRORS, sync_client

    try:
        client = sync_client(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
        keys: list[str] = []
        for c in counters:
            keys += [c.key, c.key + ":z"]
        raw = client.register_script(LEVELS_LUA)(
            keys=keys, args=[now_ms, *(c.window_ms for c in counters)]
        )
    except REDIS_ERRORS:
        return None
    return [int(v) for v in raw]


def current_usage(policy: RateLimitPolicy, member: str = "") -> list[dict[str, Any]]:
    """Per window and metric: {window, metric, limit, used} in the sliding window ending now
    (`used` None when the counters cannot be read). For a default per member, `member` names
    whose counters ("key:12", "cust:3:acme"); "" reads a total policy's."""
    counters = _counters(policy, member)
    levels = _levels(counters, int(time.time() * 1000))
    return [
        {
            "window": c.window,
            "metric": c.metric,
            "limit": c.limit,
            "used": None if levels is None else levels[i],
        }
        for i, c in enumerate(counters)
    ]


def members_usage(policy: RateLimitPolicy, *, limit: int = 50) -> list[dict[str, Any]]:
    """For a default-per-member policy: the members with counters and their current use.
    Members are known from the database counters (embedded mode) only; with Redis, a member's
    use is read by naming it (current_usage)."""
    if settings.REDIS_URL or policy.kind != RateLimitPolicy.Kind.DEFAULT_PER_MEMBER:
        return []
    members = (
        RateLimitCounter.objects.filter(policy=policy)
        .values_list("member", flat=True)
        .distinct()
        .order_by("member")[:limit]
    )
    return [{"member": m, "usage": current_usage(policy, m)} for m in members]
