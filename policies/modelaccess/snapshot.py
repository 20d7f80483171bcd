"""The model-access policies as plain, precompiled data: the gate decides a call with a few
dict look-ups and one regular-expression match per policy of the deciding tier (every pattern
list is compiled once, when the snapshot loads, into one anchored alternation)."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hotpath.context import RequestContext
    from policies.modelaccess.models import ModelAccessPolicy


@dataclass(frozen=True, slots=True)
class AccessRule:
    id: int
    name: str
    scope: str
    # provider → None (every model) or the compiled patterns; a provider absent: none allowed.
    allowed: dict[str, re.Pattern[str] | None]

    def allows(self, provider: str, model: str) -> bool:
        if provider not in self.allowed:
            return False
        pattern = self.allowed[provider]
        return pattern is None or pattern.fullmatch(model) is not None


def compile_patterns(patterns: list[str]) -> re.Pattern[str] | None:
    """None for "every model" ("*" among the patterns), else one regex matching any pattern
    (fnmatch semantics: `*`, `?`, `[seq]`; case-sensitive, as model names are)."""
    if "*" in patterns:
        return None
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns))


def normalise_model(model: str) -> str:
    """A Gemini listing names models "models/<name>"; calls name them "<name>"."""
    return model.removeprefix("models/")


class ModelAccessSnapshot:
    """Enabled policies by tier subject."""

    __slots__ = ("_by_key", "_by_org", "_by_user", "_by_ws", "size")

    def __init__(self, rules: list[tuple[AccessRule, int, int | None, int | None, int | None]]):
        self._by_key: dict[int, tuple[AccessRule, ...]] = {}
        self._by_user: dict[tuple[int, int], tuple[AccessRule, ...]] = {}
        self._by_ws: dict[int, tuple[AccessRule, ...]] = {}
        self._by_org: dict[int, tuple[AccessRule, ...]] = {}
        self.size = 0
        for rule, org_id, ws_id, key_id, user_id in rules:
            self.size += 1
            if rule.scope == "api_key" and key_id is not None:
                self._by_key[key_id] = (*self._by_key.get(key_id, ()), rule)
            elif rule.scope == "user" and user_id is not None:
                subject = (org_id, user_id)
                self._by_user[subject] = (*self._by_user.get(subject, ()), rule)
            elif rule.scope == "workspace" and ws_id is not None:
                self._by_ws[ws_id] = (*self._by_ws.get(ws_id, ()), rule)
            elif rule.scope == "organization":
                self._by_org[org_id] = (*self._by_org.get(org_id, ()), rule)

    def deciding(self, ctx: RequestContext) -> tuple[AccessRule, ...]:
        """The policies of the most specific tier that has any (empty: no policy applies)."""
        found = self._by_key.get(ctx.key_id)
        if found:
            return found
        if ctx.user_id is not None:
            found = self._by_user.get((ctx.organization_id, ctx.user_id))
            if found:
                return found
        return self._by_ws.get(ctx.workspace_id) or self._by_org.get(ctx.organization_id, ())


def refusing(rules: tuple[AccessRule, ...], provider: str, model: str) -> AccessRule | None:
    """The first policy of the deciding tier that does not allow the model, or None. A custom
    provider's model (provider custom/NAME) is checked as NAME/MODEL under `custom`."""
    model = normalise_model(model)
    if provider.startswith("custom/"):
        provider, model = "custom", f"{provider.removeprefix('custom/')}/{model}"
    for rule in rules:
        if not rule.allows(provider, model):
            return rule
    return None


def rule_from_policy(policy: ModelAccessPolicy) -> AccessRule:
    from policies.modelaccess.models import split_patterns

    return AccessRule(
        id=policy.pk,
        name=policy.name,
        scope=policy.scope,
        allowed={
            r.provider: compile_patterns(split_patterns(r.models)) for r in policy.rules.all()
        },
    )


def load_snapshot() -> ModelAccessSnapshot:
    """Read every enabled policy (sync ORM: call from a worker thread, never the event loop)."""
    from policies.modelaccess.models import ModelAccessPolicy

    policies = ModelAccessPolicy.objects.filter(enabled=True).prefetch_related("rules")
    return ModelAccessSnapshot(
        [
            (rule_from_policy(p), p.organization_id, p.workspace_id, p.api_key_id, p.user_id)
            for p in policies
        ]
    )
