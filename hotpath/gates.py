"""The policy seam: gates run before and after every proxied call (docs/architecture.md §3-4).

A gate is a class listed by dotted path in settings.GATEWAY_PROXY_GATES (run in that order:
spend first, then redaction), instantiated once per process with no arguments:

    class MyGate:
        async def before(self, call: ProxyCall) -> None: ...   # may raise PolicyBlocked
        async def after(self, call: ProxyCall) -> None: ...    # exactly once per call that ran before()

A gate whose decision depends on the model may also define

        async def retarget(self, call: ProxyCall) -> None: ...  # may raise PolicyBlocked

called when a route moves the call to its next candidate (`call.model`, `call.record.provider`
and `call.price` now name that candidate): a refusal skips that candidate as a failed attempt,
so a fallback never reaches a model the caller could not call directly.

`before` may replace `call.body` (a dict) and set `call.body_changed = True` (the proxy then
re-serialises it; otherwise the caller's bytes go upstream untouched), append response filters,
and write `call.record.policy_results` / `call.record.redaction_counts` / `call.metadata`.
`after` always runs when the call ends (success, upstream error, timeout, client disconnect,
or a block by this or a later gate), with `call.usage` and `call.cost_usd` set when known: for
a call that reached the provider they are never empty (the proxy estimates what the provider
did not report: pricing.usage).
Gates run on the event loop: anything blocking goes to a thread (asyncio.to_thread).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from collections.abc import Callable

    from hotpath.callrecord import CallRecord
    from hotpath.context import RequestContext
    from pricing.table import Price, Usage


class ResponseFilter(Protocol):
    """Transforms what the client receives (not what usage parsing reads), applied in order."""

    def feed(self, chunk: bytes) -> bytes:
        """A streamed chunk in, the bytes to send now out (may hold back a partial tail)."""

    def flush(self) -> bytes:
        """End of stream: whatever was held back."""

    def filter_body(self, body: bytes) -> bytes:
        """A whole (non-streamed) response body."""


@dataclass(slots=True, eq=False)
class ProxyCall:
    """One call through the proxy, as gates see it."""

    ctx: RequestContext
    dialect: str  # "openai" | "anthropic" | "gemini"
    endpoint: str  # ChatCompletions, Responses, Embeddings, Messages, GenerateContent, CountTokens, Models...
    model: str
    body: dict[str, Any] | None
    stream: bool
    record: CallRecord
    price: Price | None = None
    body_changed: bool = False
    usage: Usage | None = None
    cost_usd: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    response_filters: list[ResponseFilter] = field(default_factory=list)
    # Request headers as received (lowercase names), gateway key headers removed.
    headers: dict[str, str] = field(default_factory=dict)
    http_status: int | None = None  # the status the client got, once known
    # What the charge rests on when the provider's usage never arrives (pricing.usage.settled):
    sent_body: bytes | None = None  # the request body as sent upstream, once it was sent
    upstream_status: int | None = None  # the provider's status, once its headers arrived
    complete: bool = False  # the provider's answer arrived whole
    streamed_events: int = 0  # stream events relayed to the client
    # The provider path (query included) when the provider's credentials decide it (Azure's
    # deployments); None: the route's own path and the caller's query.
    upstream_path: str | None = None
    # A unified endpoint's call: the provider call(s) its model resolved to (proxy.unified);
    # `dialect`, `endpoint` and `body` stay the caller's API, `model` is the provider's.
    target: Any = None
    # Set by the model-access gate on a models listing: whether (provider, model) may be
    # called; a listing the proxy builds itself (the unified one) keeps only those.
    model_allowed: Callable[[str, str], bool] | None = None


class Gate(Protocol):
    async def before(self, call: ProxyCall) -> None: ...

    async def after(self, call: ProxyCall) -> None: ...


def load_gates(paths: list[str] | None = None) -> list[Gate]:
    """Instantiate the gates of settings.GATEWAY_PROXY_GATES (or `paths`), in order.

    A bad path fails loudly at start-up (ImportError): a missing policy must never be skipped."""
    names = settings.GATEWAY_PROXY_GATES if paths is None else paths
    return [import_string(name)() for name in names]
