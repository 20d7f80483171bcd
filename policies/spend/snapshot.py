"""The spend policies as plain, immutable data, and which of them a call matches.

The proxy never reads the ORM per request: `load_snapshot()` (sync ORM, run in a worker thread)
builds a `SpendSnapshot`, indexed by subject so that `match()` is a handful of dict look-ups
whatever the number of policies. policies/spend/gate.py swaps in a new snapshot when a policy
changes (hotpath/changes.py) and on a timer.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from policies.spend.models import SpendPolicy

MICROS_PER_USD = 1_000_000

SCOPE_PREFIX = {"workspace": "ws", "api_key": "key", "user": "user"}


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
    scope: str  # organization | workspace | api_key | user
    kind: str  # total | default_per_member
    workspace_id: int | None
    api_key_id: int | None
    user_id: int | None
    windows: tuple[WindowRule, ...]
    unpriced: str = "refuse"  # refuse | fallback
    fallback_input: float | None = None  # USD per 1M tokens
    fallback_output: float | None = None
    alert_at: tuple[int, ...] = ()  # budget alert thresholds, percent of each window's limit

    @property
    def per_member(self) -> bool:
        return self.kind == "default_per_member"


@dataclass(frozen=True, slots=True)
class Match:
    """One policy a call falls under; `member` names the counter ("" for a total policy,
    "key:12" for key 12 under a default-per-member policy)."""

    rule: PolicyRule
    member: str


class SpendSnapshot:
    """Every enabled policy with at least one window, indexed for `match`."""

    __slots__ = ("_by_key", "_by_org", "_by_user", "_by_ws", "_own", "_per_member", "size")

    def __init__(self, rules: Iterable[PolicyRule] = ()) -> None:
        self._by_org: dict[int, list[PolicyRule]] = {}
        self._by_ws: dict[int, list[PolicyRule]] = {}
        self._by_key: dict[int, list[PolicyRule]] = {}
        self._by_user: dict[int, list[PolicyRule]] = {}
        self._per_member: dict[int, list[PolicyRule]] = {}
        self._own: set[tuple[str, int]] = set()
        self.size = 0
        for rule in rules:
            self._add(rule)

    def _add(self, rule: PolicyRule) -> None:
        self.size += 1
        if rule.per_member:
            self._per_member.setdefault(rule.organization_id, []).append(rule)
            return
        if rule.scope == "organization":
            self._by_org.setdefault(rule.organization_id, []).append(rule)
        elif rule.scope == "workspace" and rule.workspace_id is not None:
            self._by_ws.setdefault(rule.workspace_id, []).append(rule)
            self._own.add(("workspace", rule.workspace_id))
        elif rule.scope == "api_key" and rule.api_key_id is not None:
            self._by_key.setdefault(rule.api_key_id, []).append(rule)
            self._own.add(("api_key", rule.api_key_id))
        elif rule.scope == "user" and rule.user_id is not None:
            self._by_user.setdefault(rule.user_id, []).append(rule)
            self._own.add(("user", rule.user_id))

    def match(
        self, *, organization_id: int, workspace_id: int, key_id: int, user_id: int | None
    ) -> list[Match]:
        """Every policy the call falls under. A user's cap counts the user's personal tokens and
        the service keys assigned to the user (both carry `user_id`)."""
        found = [Match(r, "") for r in self._by_org.get(organization_id, ())]
        found += [Match(r, "") for r in self._by_ws.get(workspace_id, ())]
        found += [Match(r, "") for r in self._by_key.get(key_id, ())]
        if user_id is not None:
            found += [
                Match(r, "")
                for r in self._by_user.get(user_id, ())
                if r.organization_id == organization_id
            ]
        subjects = {"workspace": workspace_id, "api_key": key_id, "user": user_id}
        for rule in self._per_member.get(organization_id, ()):
            subject = subjects.get(rule.scope)
            if subject is None or (rule.scope, subject) in self._own:
                continue  # no such member, or the member's own policy replaces the default
            if rule.scope != "workspace" and rule.workspace_id not in (None, workspace_id):
                continue  # the group is another workspace
            found.append(Match(rule, f"{SCOPE_PREFIX[rule.scope]}:{subject}"))
        return found


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
    )


def load_snapshot() -> SpendSnapshot:
    """Read every enabled policy (sync ORM: call from a worker thread, never the event loop)."""
    from policies.spend.models import SpendPolicy

    policies = SpendPolicy.objects.filter(enabled=True).prefetch_related("windows")
    rules = [rule_from_policy(p) for p in policies]
    return SpendSnapshot(r for r in rules if r.windows)
