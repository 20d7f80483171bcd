"""The effective policy of a call, from an in-process snapshot (never the ORM per request).

`PolicyTable` holds every enabled policy grouped by organization. It reloads (in a thread) when
hotpath.changes.generation() moved (a policy was saved in this process, or a
Redis invalidation woke the refresher) and at least every GATEWAY_AUTH_REFRESH_SECONDS. The
most specific policy wins: API key, then user, then workspace, then organization.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from hotpath import changes as invalidation
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
    def __init__(self) -> None:
        self._table: dict[int, list[EffectivePolicy]] | None = None
        self._generation = -1
        self._loaded_at = 0.0

    def _stale(self) -> bool:
        refresh = getattr(settings, "GATEWAY_AUTH_REFRESH_SECONDS", 30.0)
        return (
            self._table is None
            or self._generation != invalidation.generation()
            or time.monotonic() - self._loaded_at > refresh
        )

    async def _reload(self) -> None:
        """Two calls may reload at once after a change: both read the same rows, harmless, and
        no lock is bound to one event loop. When the database cannot be read, the previous
        snapshot keeps serving until the next refresh; with no snapshot at all the error
        propagates and the call fails (never served as if no policy existed)."""
        generation = invalidation.generation()
        try:
            table = await asyncio.to_thread(load_policies)
        except Exception:
            if self._table is None:
                raise
            logger.warning("could not reload redaction policies; keeping the previous snapshot")
            self._generation, self._loaded_at = generation, time.monotonic()
            return
        self._table, self._generation, self._loaded_at = table, generation, time.monotonic()

    async def effective(
        self, *, organization_id: int, workspace_id: int, key_id: int | None, user_id: int | None
    ) -> EffectivePolicy | None:
        if self._stale():
            await self._reload()
        policies = (self._table or {}).get(organization_id, [])
        return effective_policy(policies, workspace_id=workspace_id, key_id=key_id, user_id=user_id)
