"""How every policy gate writes its part of a trace's `policy_outcome` (call.record.
policy_results): each policy the call fell under is listed under `matched`, and under
`passed` or `violated`, with its kind (`type`), scope and, for a default per member, the
member it counted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

    from hotpath.gates import ProxyCall


def outcome_entry(
    *, policy_id: int, name: str, kind: str, scope: str, member: str = ""
) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": policy_id, "name": name, "type": kind, "scope": scope}
    if member:
        entry["member"] = member
    return entry


def record_outcome(call: ProxyCall, kind: str, matches: Iterable[Any], violated: set[int]) -> None:
    """`matches` are policies.subjects.Match; `violated` the ids of the policies that refused."""
    results = call.record.policy_results
    for m in matches:
        entry = outcome_entry(
            policy_id=m.rule.id, name=m.rule.name, kind=kind, scope=m.rule.scope, member=m.member
        )
        results.setdefault("matched", []).append(entry)
        results.setdefault("violated" if m.rule.id in violated else "passed", []).append(entry)
