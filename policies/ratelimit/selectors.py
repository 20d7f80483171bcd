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
    """Each counter's use in the window ending now; None when Redis cannot be read. With
    Redis, one script call reads them all (every key of an organization shares one slot)."""
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


def _usage_rows(counters: list[RateCounter], levels: list[int] | None) -> list[dict[str, Any]]:
    return [
        {
            "window": c.window,
            "metric": c.metric,
            "limit": c.limit,
            "used": None if levels is None else levels[i],
        }
        for i, c in enumerate(counters)
    ]


def current_usage(policy: RateLimitPolicy, member: str = "") -> list[dict[str, Any]]:
    """Per window and metric: {window, metric, limit, used} in the sliding window ending now
    (`used` None when the counters cannot be read). For a default per member, `member` names
    whose counters ("key:12", "cust:3:acme"); "" reads a total policy's."""
    counters = _counters(policy, member)
    return _usage_rows(counters, _levels(counters, int(time.time() * 1000)))


MEMBER_SCAN_LIMIT = 10_000  # members a Redis listing looks at, at most (it shows the first ones)


def _redis_members(policy: RateLimitPolicy) -> list[str] | None:
    """The members of a default-per-member policy with live counters in Redis: their counter
    keys (`gw:rl:{o<org>}:<policy>:<member>:<window>:<metric>`) exist while a call of theirs is
    in a window, so a scan of the policy's key prefix finds who is using it now. None when
    Redis cannot be read."""
    from hotpath.redis_client import REDIS_ERRORS, sync_client

    prefix = f"gw:rl:{{o{policy.organization_id}}}:{policy.pk}:"
    members: set[str] = set()
    try:
        client = sync_client(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
        for raw in client.scan_iter(match=f"{prefix}*", count=1000):
            key = raw.decode() if isinstance(raw, bytes) else raw
            if not key.endswith((":requests", ":tokens")):
                continue  # the `:z` sorted set of the same counter
            members.add(key[len(prefix) :].rsplit(":", 2)[0])
            if len(members) >= MEMBER_SCAN_LIMIT:
                break
    except REDIS_ERRORS:
        return None
    return sorted(members)


def members_usage(policy: RateLimitPolicy, *, limit: int = 50) -> list[dict[str, Any]] | None:
    """For a default-per-member policy: up to `limit` members (by name) with counters, and
    their current use. From the live counters: the database rows of the embedded mode, or
    Redis (a scan of the policy's keys, then one script call for every member's levels). None
    when Redis cannot be read."""
    if policy.kind != RateLimitPolicy.Kind.DEFAULT_PER_MEMBER:
        return []
    if settings.REDIS_URL:
        found = _redis_members(policy)
        if found is None:
            return None
        members = found[:limit]
    else:
        members = list(
            RateLimitCounter.objects.filter(policy=policy)
            .values_list("member", flat=True)
            .distinct()
            .order_by("member")[:limit]
        )
    per_member = [_counters(policy, m) for m in members]
    levels = _levels([c for counters in per_member for c in counters], int(time.time() * 1000))
    out = []
    offset = 0
    for member, counters in zip(members, per_member, strict=True):
        mine = None if levels is None else levels[offset : offset + len(counters)]
        offset += len(counters)
        out.append({"member": member, "usage": _usage_rows(counters, mine)})
    return out
