"""The effective redaction policy of a call, from an in-process snapshot (never the ORM per
request).

`load_policies` reads every enabled policy, grouped by organization, as immutable data; the
gate's `PolicyTable` holds it in a hotpath.snapshot.Snapshot. The most specific policy wins:
API key, then user, then workspace, then organization.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from hotpath.snapshot import Snapshot
from policies.redaction.engine import ScanConfig
from policies.redaction.rules import NER_RULE_IDS

logger = logging.getLogger(__name__)
_SPECIFICITY = {"api_key": 0, "user": 1, "workspace": 2, "organization": 3}


@dataclass(frozen=True, slots=True)
class EffectivePolicy:
    id: int
    name: str
    scope: str
    organization_id: int
    workspace_id: int | None
    api_key_id: int | None
    user_id: int | None
    config: ScanConfig
    scan_system: bool
    restore: bool
    timeout_s: float
    block_on_failure: bool

    @property
    def active(self) -> bool:
        return bool(self.config.rule_ids or self.config.custom)


def snapshot_of(policy: Any) -> EffectivePolicy:
    """Plain, immutable data of a RedactionPolicy row."""
    rules: set[str] = set()
    if policy.pii_enabled:
        rules |= set(policy.pii_rules or ())
    if policy.secrets_enabled:
        rules |= set(policy.secret_rules or ())
    if not getattr(settings, "GATEWAY_PII_NLP_MODEL", ""):
        rules -= NER_RULE_IDS
    custom = tuple((c["name"], c["pattern"]) for c in policy.custom_patterns or ())
    return EffectivePolicy(
        id=policy.pk,
        name=policy.name,
        scope=policy.scope,
        organization_id=policy.organization_id,
        workspace_id=policy.workspace_id,
        api_key_id=policy.api_key_id,
        user_id=policy.user_id,
        config=ScanConfig(rule_ids=frozenset(rules), custom=custom),
        scan_system=policy.scan_system_prompts,
        restore=policy.restore_responses,
        timeout_s=policy.timeout_ms / 1000,
        block_on_failure=policy.on_timeout == "block",
    )


def effective_policy(
    policies: list[EffectivePolicy], *, workspace_id: int, key_id: int | None, user_id: int | None
) -> EffectivePolicy | None:
    """The most specific of the organization's policies that applies to this caller."""
    best: EffectivePolicy | None = None
    for policy in policies:
        applies = (
            (policy.scope == "api_key" and policy.api_key_id == key_id)
            or (policy.scope == "user" and user_id is not None and policy.user_id == user_id)
            or (policy.scope == "workspace" and policy.workspace_id == workspace_id)
            or policy.scope == "organization"
        )
        if applies and (best is None or _SPECIFICITY[policy.scope] < _SPECIFICITY[best.scope]):
            best = policy
    return best


def load_policies() -> dict[int, list[EffectivePolicy]]:
    from policies.redaction.models import RedactionPolicy

    table: dict[int, list[EffectivePolicy]] = {}
    for row in RedactionPolicy.objects.filter(enabled=True):
        table.setdefault(row.organization_id, []).append(snapshot_of(row))
    return table


class PolicyTable:
    """The effective policy of a call, from this process's snapshot of every enabled policy
    (topic "redaction": reloaded when a policy changes anywhere, hotpath.snapshot)."""

    def __init__(self) -> None:
        self.snapshot: Snapshot[dict[int, list[EffectivePolicy]]] = Snapshot(
            "redaction policies", ("redaction",), load_policies
        )

    async def effective(
        self, *, organization_id: int, workspace_id: int, key_id: int | None, user_id: int | None
    ) -> EffectivePolicy | None:
        table = self.snapshot.current()
        if table is None:
            table = await self.snapshot.get()
        policies = table.get(organization_id, [])
        return effective_policy(policies, workspace_id=workspace_id, key_id=key_id, user_id=user_id)
