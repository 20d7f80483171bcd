"""The one record every gateway call produces: the proxy fills it, the recorder
ships it, tracing stores it as a run and spend accounting reads its cost.

Plain data only (no Django imports): it crosses the proxy's asyncio.Queue, Redis and the local
spool as JSON (`to_dict` / `from_dict`).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

# A tracing project name a caller may pick with `x-gateway-project` (the proxy answers 400
# otherwise): letters, digits, space, dot, underscore and hyphen, 1-100 characters.
PROJECT_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$")


@dataclass(slots=True)
class CallRecord:
    run_id: str  # uuid4 hex, also the idempotency key of ingestion
    trace_id: str
    started_at: float  # epoch seconds
    organization_id: int | None = None
    workspace_id: int | None = None
    project_name: str = "gateway"  # from x-gateway-project, default "gateway"
    key_id: int | None = None
    key_prefix: str = ""  # gw_sk_<lookup>; never the key
    user_id: int | None = None
    customer: str = ""  # the application's end customer (x-gateway-customer), "" when not named
    name: str = ""  # endpoint: ChatCompletions, Responses, Messages, GenerateContent, ...
    dialect: str = ""  # openai | anthropic | gemini
    provider: str = ""
    model: str = ""
    method: str = "POST"
    path: str = ""
    stream: bool = False
    status: str = "success"  # success | error | blocked
    http_status: int = 200
    error: str | None = None
    ended_at: float | None = None
    first_token_at: float | None = None
    # Token counts as pricing.table.Usage defines them: input_tokens includes cache reads and
    # writes, output_tokens includes reasoning; the others are breakdowns of those totals.
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    audio_input_tokens: int = 0
    audio_output_tokens: int = 0
    cost_usd: float | None = None  # None when the model has no price (flagged, never 0)
    price_missing: bool = False
    usage_estimated: bool = False  # the provider's counts were missing or corrected
    usage_note: str = ""  # what was estimated or corrected, and why
    policy_results: dict[str, Any] = field(default_factory=dict)  # matched/passed/violated, ...
    redaction_counts: dict[str, int] = field(default_factory=dict)
    user_agent: str = ""
    request_metadata: dict[str, str] = field(default_factory=dict)  # X-Gateway-* headers
    request_content: Any = None  # only when the workspace traces content; already redacted
    response_content: Any = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CallRecord:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
