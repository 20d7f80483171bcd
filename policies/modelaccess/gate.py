"""The model-access gate: refuse a call to a model its caller may not use, and list only the
models the caller may call (contract in hotpath/gates.py).

before(call): the deciding tier's policies (policies/modelaccess/snapshot.py) for the call's
provider and model — the provider the call goes to (`call.record.provider`, which a unified
endpoint sets from PROVIDER/MODEL), not the caller's dialect; a model one of them does not allow
→ 403 in the caller's dialect naming the model and the policy. Counting tokens follows the
model it counts for (the same check). A models listing is not refused: the caller's own
provider listing is filtered through a response filter, and `call.model_allowed` tells the
unified listing (which asks every provider) what to keep.

Cost: one dict look-up per tier, one precompiled regex per deciding policy: a few µs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from hotpath.errors import PolicyBlocked
from hotpath.snapshot import Snapshot
from policies.modelaccess.snapshot import (
    AccessRule,
    ModelAccessSnapshot,
    load_snapshot,
    normalise_model,
    refusing,
)
from policies.outcomes import outcome_entry

if TYPE_CHECKING:
    from hotpath.gates import ProxyCall

LISTINGS = frozenset({"Models", "ListModels"})


class ModelAccessGate:
    """Instantiated once per process by hotpath.gates.load_gates."""

    def __init__(self) -> None:
        self._snapshot: Snapshot[ModelAccessSnapshot] = Snapshot(
            "model access policies", ("modelaccess",), load_snapshot
        )

    async def before(self, call: ProxyCall) -> None:
        snapshot = self._snapshot.current()
        if snapshot is None:
            snapshot = await self._snapshot.get()
        if not snapshot.size:
            return
        rules = snapshot.deciding(call.ctx)
        if not rules:
            return
        if call.endpoint in LISTINGS:
            call.model_allowed = lambda provider, model: refusing(rules, provider, model) is None
            call.response_filters.append(ListingFilter(call.dialect, rules))
            return
        self._check(call, rules)

    async def retarget(self, call: ProxyCall) -> None:
        """A route's next candidate: the same check for the model it names."""
        snapshot = self._snapshot.current()
        if snapshot is None:
            snapshot = await self._snapshot.get()
        rules = snapshot.deciding(call.ctx) if snapshot.size else ()
        if rules:
            self._check(call, rules)

    @staticmethod
    def _check(call: ProxyCall, rules: tuple[AccessRule, ...]) -> None:
        provider = call.record.provider or call.dialect
        model = call.model
        denied = refusing(rules, provider, model) if model else rules[0]
        _record(call, rules, denied)
        if denied is not None:
            raise _blocked(denied, provider, model)

    async def after(self, call: ProxyCall) -> None:
        return None


def _record(call: ProxyCall, rules: tuple[AccessRule, ...], denied: AccessRule | None) -> None:
    results = call.record.policy_results
    for rule in rules:
        entry = outcome_entry(
            policy_id=rule.id, name=rule.name, kind="model_access", scope=rule.scope
        )
        results.setdefault("matched", []).append(entry)
        results.setdefault("violated" if rule is denied else "passed", []).append(entry)


def _blocked(rule: AccessRule, provider: str, model: str) -> PolicyBlocked:
    if not model:
        message = f"the call names no model; gateway policy {rule.name!r} limits the models"
    else:
        message = (
            f"model {normalise_model(model)!r} of {provider} is not allowed by gateway policy "
            f"{rule.name!r}"
        )
    return PolicyBlocked(
        403,
        message,
        {
            "reason": "model_access",
            "policies": [rule.name],
            "scopes": [rule.scope],
            "model": model,
            "provider": provider,
        },
    )


class ListingFilter:
    """Keeps only the allowed models in a provider's own models listing (OpenAI and Anthropic:
    `data[].id`; Gemini: `models[].name`, "models/<name>"). Anything else (an error body) is
    passed on untouched."""

    def __init__(self, provider: str, rules: tuple[AccessRule, ...]) -> None:
        self.provider = provider
        self.rules = rules
        self._held: list[bytes] = []

    def _allowed(self, item: Any, field: str) -> bool:
        name = item.get(field) if isinstance(item, dict) else None
        return isinstance(name, str) and refusing(self.rules, self.provider, name) is None

    def filter_body(self, body: bytes) -> bytes:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return body
        if not isinstance(data, dict):
            return body
        changed = False
        for key, field in (("data", "id"), ("models", "name")):
            items = data.get(key)
            if isinstance(items, list):
                data[key] = kept = [item for item in items if self._allowed(item, field)]
                changed = True
                if "first_id" in data:  # Anthropic's page bounds name the models kept
                    data["first_id"] = kept[0].get("id") if kept else None
                    data["last_id"] = kept[-1].get("id") if kept else None
        return orjson.dumps(data) if changed else body

    def feed(self, chunk: bytes) -> bytes:
        # A listing is never streamed; should one be, it is filtered whole at the end.
        self._held.append(chunk)
        return b""

    def flush(self) -> bytes:
        return self.filter_body(b"".join(self._held))
