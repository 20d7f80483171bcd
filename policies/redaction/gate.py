"""RedactionGate: the redaction policy on the proxy's gate seam (hotpath/gates.py).

before(call):
1. find the effective policy (in-process snapshot, policies.redaction.snapshot);
2. scan and rewrite a copy of the body in the redaction thread pool, under the policy's time
   limit (asyncio.wait_for, and the scan itself stops at the deadline): CPU work never runs on
   the event loop, and the `regex` engine releases the GIL while matching, so other streams
   keep flowing;
3. on success: the copy becomes call.body (body_changed), counts per type go to
   call.record.redaction_counts, the policy is listed as matched and passed, and a RestoreFilter
   is appended when the policy restores and something was replaced;
4. on timeout or scanner failure: `block` (default) raises PolicyBlocked 503 — the request
   could not be checked, retrying later may succeed, and SDKs treat 503 as retryable — with the
   policy listed as violated; `allow` forwards the original body and notes it in the results.
Traces: the proxy records call.body after this gate, so a trace holds only the redacted text.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import orjson
from django.conf import settings

from hotpath.errors import PolicyBlocked
from policies.redaction.engine import ScanTimeout
from policies.redaction.placeholders import Redaction, workspace_key
from policies.redaction.redactor import redact_body
from policies.redaction.restore import RestoreFilter
from policies.redaction.snapshot import EffectivePolicy, PolicyTable
from policies.redaction.walkers import has_walker

if TYPE_CHECKING:
    from hotpath.gates import ProxyCall

logger = logging.getLogger(__name__)
BLOCK_STATUS = 503


class ProviderErrorsUntouched(RestoreFilter):
    """Restores only successful responses: a provider error passes as the provider sent it."""

    def __init__(self, mapping: dict[str, str], call: ProxyCall) -> None:
        super().__init__(mapping)
        self._call = call

    def _is_error(self) -> bool:
        return (self._call.http_status or 200) >= 400

    def filter_body(self, body: bytes) -> bytes:
        return body if self._is_error() else super().filter_body(body)

    def feed(self, chunk: bytes) -> bytes:
        return chunk if self._is_error() else super().feed(chunk)

    def flush(self) -> bytes:
        return b"" if self._is_error() else super().flush()


def _scan(
    body: dict[str, Any], call: ProxyCall, policy: EffectivePolicy, deadline: float
) -> tuple[dict[str, Any], Redaction, bool]:
    copy = orjson.loads(orjson.dumps(body))  # a timeout must leave call.body untouched
    redaction = Redaction(workspace_key(call.ctx.workspace_id))
    changed = redact_body(
        copy,
        dialect=call.dialect,
        endpoint=call.endpoint,
        scan_system=policy.scan_system,
        config=policy.config,
        redaction=redaction,
        deadline=deadline,
    )
    return copy, redaction, changed


class RedactionGate:
    def __init__(self) -> None:
        self.table = PolicyTable()
        self.executor = ThreadPoolExecutor(
            max_workers=getattr(settings, "GATEWAY_REDACTION_THREADS", 2),
            thread_name_prefix="redaction",
        )

    async def before(self, call: ProxyCall) -> None:
        if call.body is None or not has_walker(call.dialect, call.endpoint):
            return
        ctx = call.ctx
        policy = await self.table.effective(
            organization_id=ctx.organization_id,
            workspace_id=ctx.workspace_id,
            key_id=ctx.key_id,
            user_id=ctx.user_id,
        )
        if policy is None:
            return
        entry = {"id": policy.id, "name": policy.name, "type": "redaction", "scope": policy.scope}
        results = call.record.policy_results
        results.setdefault("matched", []).append(entry)
        if not policy.active:
            results.setdefault("passed", []).append(entry)
            return
        outcome = await self._run(call, policy)
        if isinstance(outcome, str):
            self._fail(call, policy, entry, outcome)
            return
        body, redaction, changed = outcome
        results.setdefault("passed", []).append(entry)
        if changed:
            call.body = body
            call.body_changed = True
            call.record.redaction_counts = dict(redaction.counts)
            if policy.restore:
                call.response_filters.append(ProviderErrorsUntouched(redaction.mapping, call))

    async def _run(
        self, call: ProxyCall, policy: EffectivePolicy
    ) -> tuple[dict[str, Any], Redaction, bool] | str:
        """The scan's result, or the reason it has none."""
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + policy.timeout_s
        future = loop.run_in_executor(self.executor, _scan, call.body, call, policy, deadline)
        try:
            return await asyncio.wait_for(future, timeout=policy.timeout_s)
        except (TimeoutError, ScanTimeout):
            return f"the redaction scan did not finish within {round(policy.timeout_s * 1000)} ms"
        except Exception as exc:  # a scanner bug must not leak the prompt: fail per policy
            logger.error("redaction scan failed: %s", type(exc).__name__)
            return f"the redaction scanner failed ({type(exc).__name__})"

    def _fail(
        self, call: ProxyCall, policy: EffectivePolicy, entry: dict[str, Any], reason: str
    ) -> None:
        results = call.record.policy_results
        results["redaction"] = {
            "error": reason,
            "action": "block" if policy.block_on_failure else "allow",
        }
        if not policy.block_on_failure:
            results.setdefault("passed", []).append(entry)
            call.metadata["redaction"] = "skipped: " + reason
            return
        results.setdefault("violated", []).append(entry)
        raise PolicyBlocked(
            BLOCK_STATUS,
            f"request blocked by gateway policies: {policy.name} ({reason}; the policy blocks "
            "unscanned requests)",
            {"reason": "redaction_unavailable", "policies": [policy.name]},
        )

    async def after(self, call: ProxyCall) -> None:
        return None
