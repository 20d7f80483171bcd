"""The spend policies as plain, immutable data, and which of them a call matches.

The proxy never reads the ORM per request: `load_snapshot()` (sync ORM, run in a worker thread)
builds a `SpendSnapshot`, indexed by subject (policies.subjects.SubjectIndex) so that `match()`
is a handful of dict look-ups whatever the number of policies. policies/spend/gate.py swaps in a new snapshot when a policy
changes (hotpath/changes.py) and on a timer.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from policies.subjects import SCOPE_PREFIX, Match, SubjectIndex

if TYPE_CHECKING:
    from policies.spend.models import SpendPolicy

__all__ = ["SCOPE_PREFIX", "Match", "PolicyRule", "SpendSnapshot", "WindowRule"]

MICROS_PER_USD = 1_000_000


def usd_to_micros(value: Decimal | float) -> int:
    """USD → integer micro-dollars, rounded up: a charge or a reservation is never understated."""
    micros = Decimal(str(value)) * MICROS_PER_USD
    return int(micros.to_integral_value(rounding="ROUND_CEILING"))


@dataclass(frozen=True, slots=True)
class WindowRule:
    window: str
    limit_micros: int


@dataclass(frozen=True, slots=True)
class PolicyRule:
    id: int
    name: str
    organization_id: int
    scope: str  # organization | workspace | api_key | user | customer
    kind: str  # total | default_per_member
    workspace_id: int | None
    api_key_id: int | None
    user_id: int | None
    windows: tuple[WindowRule, ...]
    unpriced: str = "refuse"  # refuse | fallback
    fallback_input: float | None = None  # USD per 1M tokens
    fallback_output: float | None = None
    alert_at: tuple[int, ...] = ()  # budget alert thresholds, percent of each window's limit
    customer: str = ""

    @property
    def per_member(self) -> bool:
        return self.kind == "default_per_member"


class SpendSnapshot(SubjectIndex[PolicyRule]):
    """Every enabled policy with at least one window, indexed for `match`
    (policies.subjects.SubjectIndex)."""

    __slots__ = ()


def rule_from_policy(policy: SpendPolicy) -> PolicyRule:
    """A PolicyRule from a SpendPolicy with its windows prefetched."""

    def _f(value: Decimal | None) -> float | None:
        return None if value is None else float(value)

    return PolicyRule(
        id=policy.pk,
        name=policy.name,
        organization_id=policy.organization_id,
        scope=policy.scope,
        kind=policy.kind,
        workspace_id=policy.workspace_id,
        api_key_id=policy.api_key_id,
        user_id=policy.user_id,
        windows=tuple(
            WindowRule(w.window, usd_to_micros(w.limit_usd)) for w in policy.windows.all()
        ),
        unpriced=policy.unpriced_models,
        fallback_input=_f(policy.fallback_input_per_mtok),
        fallback_output=_f(policy.fallback_output_per_mtok),
        alert_at=tuple(sorted({int(t) for t in policy.alert_thresholds or []})),
        customer=policy.customer,
    )


def load_snapshot() -> SpendSnapshot:
    """Read every enabled policy (sync ORM: call from a worker thread, never the event loop)."""
    from policies.spend.models import SpendPolicy

    policies = SpendPolicy.objects.filter(enabled=True).prefetch_related("windows")
    rules = [rule_from_policy(p) for p in policies]
    return SpendSnapshot(r for r in rules if r.windows)
