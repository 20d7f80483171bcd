"""The rate-limit policies as plain, immutable data, indexed by subject
(policies.subjects.SubjectIndex): what the gate matches a call against, never the ORM."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from policies.subjects import SubjectIndex

if TYPE_CHECKING:
    from policies.ratelimit.models import RateLimitPolicy


@dataclass(frozen=True, slots=True)
class LimitRule:
    window: str  # minute | hour
    seconds: int
    max_requests: int | None
    max_tokens: int | None


@dataclass(frozen=True, slots=True)
class RateRule:
    id: int
    name: str
    organization_id: int
    scope: str
    kind: str
    workspace_id: int | None
    api_key_id: int | None
    user_id: int | None
    customer: str
    limits: tuple[LimitRule, ...]


class RateLimitSnapshot(SubjectIndex[RateRule]):
    """Every enabled rate-limit policy with at least one limit."""

    __slots__ = ()


def rule_from_policy(policy: RateLimitPolicy) -> RateRule:
    """A RateRule from a RateLimitPolicy with its limits prefetched."""
    from policies.ratelimit.models import WINDOW_SECONDS

    return RateRule(
        id=policy.pk,
        name=policy.name,
        organization_id=policy.organization_id,
        scope=policy.scope,
        kind=policy.kind,
        workspace_id=policy.workspace_id,
        api_key_id=policy.api_key_id,
        user_id=policy.user_id,
        customer=policy.customer,
        limits=tuple(
            LimitRule(
                window=limit.window,
                seconds=WINDOW_SECONDS[limit.window],
                max_requests=limit.max_requests,
                max_tokens=limit.max_tokens,
            )
            for limit in policy.limits.all()
        ),
    )


def load_snapshot() -> RateLimitSnapshot:
    """Read every enabled policy (sync ORM: call from a worker thread, never the event loop)."""
    from policies.ratelimit.models import RateLimitPolicy

    policies = RateLimitPolicy.objects.filter(enabled=True).prefetch_related("limits")
    rules = [rule_from_policy(p) for p in policies]
    return RateLimitSnapshot(r for r in rules if r.limits)
