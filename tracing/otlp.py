"""Export runs as OpenTelemetry spans over OTLP/HTTP (switched on by GATEWAY_OTLP_ENDPOINT).

Called by runs_ingest after the database commit, so only the ingest worker pays for it, never
the proxy. Spans go to an SDK BatchSpanProcessor (its own thread, bounded queue), so a slow or
dead collector costs the ingest path an enqueue, and a full queue drops spans rather than
stalling ingestion: the database stays the record of truth; the export is a copy.

Attribute names follow the OpenTelemetry GenAI semantic conventions (gen_ai.*; the
`gen_ai.provider.name` attribute, plus the older `gen_ai.system` for back ends that still
read it); gateway-specific facts are under `gateway.*`. Content is never exported. The
standard OTEL_EXPORTER_OTLP_HEADERS / _TIMEOUT / _COMPRESSION variables configure the exporter.
"""

from __future__ import annotations

import atexit
import threading
import uuid

from django.conf import settings
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from hotpath.callrecord import CallRecord

OPERATIONS = {
    "ChatCompletions": "chat",
    "Messages": "chat",
    "Responses": "chat",
    "GenerateContent": "generate_content",
    "StreamGenerateContent": "generate_content",
    "Embeddings": "embeddings",
}
PROVIDERS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",
    "google": "gcp.gemini",
    "bedrock": "aws.bedrock",
    "vertex": "gcp.vertex_ai",
}

_RESOURCE = Resource.create({"service.name": "llm-gateway"})
_SCOPE = InstrumentationScope("llm-gateway.tracing")
_lock = threading.Lock()
_processors: dict[str, BatchSpanProcessor] = {}


def _processor(endpoint: str) -> BatchSpanProcessor:
    with _lock:
        processor = _processors.get(endpoint)
        if processor is None:
            processor = BatchSpanProcessor(
                OTLPSpanExporter(endpoint=endpoint),
                max_queue_size=20_000,
                max_export_batch_size=512,
                schedule_delay_millis=1000,
            )
            atexit.register(processor.shutdown)
            _processors[endpoint] = processor
        return processor


def _ns(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1_000_000_000)


def _trace_id(record: CallRecord) -> int:
    try:
        value = int(record.trace_id, 16)
    except (TypeError, ValueError):
        value = 0
    if not 0 < value < 2**128:
        value = uuid.UUID(record.run_id).int
    return value


def span_attributes(record: CallRecord) -> dict[str, str | int | float | bool]:
    """The GenAI-convention attributes of one call (plain data, for tests and the exporter)."""
    operation = OPERATIONS.get(record.name, record.name.lower() or "chat")
    provider = PROVIDERS.get(record.provider, record.provider)
    attrs: dict[str, str | int | float | bool] = {
        "gen_ai.operation.name": operation,
        "gen_ai.provider.name": provider,
        "gen_ai.system": provider,
        "gen_ai.request.model": record.model,
        "gen_ai.response.model": record.model,
        "gen_ai.request.stream": record.stream,
        "gen_ai.usage.input_tokens": record.input_tokens,
        "gen_ai.usage.output_tokens": record.output_tokens,
        "gen_ai.usage.cache_read.input_tokens": record.cache_read_tokens,
        "gen_ai.usage.cache_creation.input_tokens": record.cache_write_tokens,
        "gen_ai.usage.reasoning.output_tokens": record.reasoning_tokens,
        "gateway.usage.audio_input_tokens": record.audio_input_tokens,
        "gateway.usage.audio_output_tokens": record.audio_output_tokens,
        "gateway.usage_estimated": record.usage_estimated,
        "http.response.status_code": record.http_status,
        "gateway.run_id": record.run_id,
        "gateway.status": record.status,
        "gateway.project": record.project_name,
        "gateway.endpoint": record.name,
        "gateway.dialect": record.dialect,
        "gateway.price_missing": record.price_missing,
    }
    optional = {
        "gateway.organization_id": record.organization_id,
        "gateway.workspace_id": record.workspace_id,
        "gateway.key_id": record.key_id,
        "gateway.key_prefix": record.key_prefix or None,
        "gateway.user_id": record.user_id,
        "gateway.cost_usd": record.cost_usd,
    }
    attrs.update({k: v for k, v in optional.items() if v is not None})
    if record.first_token_at is not None:
        attrs["gen_ai.response.time_to_first_chunk"] = record.first_token_at - record.started_at
    if record.status != "success":
        attrs["error.type"] = (
            "policy_blocked" if record.status == "blocked" else str(record.http_status)
        )
    return attrs


def record_span(record: CallRecord) -> ReadableSpan:
    """One finished CLIENT span named `<operation> <model>`, timed like the call."""
    attrs = span_attributes(record)
    context = SpanContext(
        trace_id=_trace_id(record),
        span_id=(uuid.UUID(record.run_id).int & (2**64 - 1)) or 1,
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    status = (
        Status(StatusCode.OK)
        if record.status == "success"
        else Status(StatusCode.ERROR, (record.error or record.status)[:200])
    )
    start = _ns(record.started_at)
    return ReadableSpan(
        name=f"{attrs['gen_ai.operation.name']} {record.model}".strip(),
        context=context,
        resource=_RESOURCE,
        attributes=attrs,
        kind=SpanKind.CLIENT,
        instrumentation_scope=_SCOPE,
        status=status,
        start_time=start,
        end_time=_ns(record.ended_at) or start,
    )


def otlp_export(records: list[CallRecord]) -> None:
    """Queue one span per record for the configured endpoint (returns at once)."""
    endpoint = settings.GATEWAY_OTLP_ENDPOINT
    if not endpoint:
        return
    processor = _processor(endpoint)
    for record in records:
        processor.on_end(record_span(record))


def otlp_flush(timeout_millis: int = 10_000) -> bool:
    """Send whatever is queued now (tests, and a worker shutting down)."""
    with _lock:
        processors = list(_processors.values())
    return all(p.force_flush(timeout_millis) for p in processors)
