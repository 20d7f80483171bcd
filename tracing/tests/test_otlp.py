from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tracing.otlp import otlp_flush
from tracing.services import runs_ingest
from tracing.tests.factories import call_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def collector():
    """A real loopback HTTP server that captures OTLP/HTTP protobuf POSTs."""
    received: list[tuple[str, str, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Content-Type"], body))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces", received
    server.shutdown()
    server.server_close()


def attributes(span) -> dict:
    out = {}
    for kv in span.attributes:
        value = kv.value
        out[kv.key] = getattr(value, value.WhichOneof("value"))
    return out


def test_ingested_runs_are_exported_with_genai_attributes(settings, collector, owner):
    endpoint, received = collector
    settings.GATEWAY_OTLP_ENDPOINT = endpoint
    ok = call_record(owner, reasoning_tokens=4, cache_write_tokens=3)
    blocked = call_record(
        owner,
        name="Messages",
        dialect="anthropic",
        provider="anthropic",
        model="claude-sonnet-4-5",
        status="blocked",
        http_status=402,
        cost_usd=None,
    )
    assert runs_ingest([ok, blocked]) == 2
    assert otlp_flush()

    spans = {}
    for path, content_type, body in received:
        assert path == "/v1/traces"
        assert content_type == "application/x-protobuf"
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    spans[span.trace_id.hex()] = span
    assert set(spans) == {ok.trace_id, blocked.trace_id}

    span = spans[ok.trace_id]
    attrs = attributes(span)
    assert span.name == "chat gpt-4o-mini"
    assert span.kind == span.SPAN_KIND_CLIENT
    assert span.start_time_unix_nano == int(ok.started_at * 1e9)
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.usage.input_tokens"] == 120
    assert attrs["gen_ai.usage.output_tokens"] == 30
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 10
    assert attrs["gen_ai.usage.cache_creation.input_tokens"] == 3
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 4
    assert attrs["gateway.key_prefix"] == owner.key.display_prefix
    assert attrs["gateway.cost_usd"] == pytest.approx(0.0000375)
    assert "hello" not in str(attrs)

    attrs = attributes(spans[blocked.trace_id])
    assert attrs["gen_ai.provider.name"] == "anthropic"
    assert attrs["error.type"] == "policy_blocked"
    assert "gateway.cost_usd" not in attrs
    assert spans[blocked.trace_id].status.code == 2  # STATUS_CODE_ERROR


def test_a_replayed_batch_is_not_exported_twice(settings, collector, owner):
    endpoint, received = collector
    settings.GATEWAY_OTLP_ENDPOINT = endpoint
    batch = [call_record(owner)]
    runs_ingest(batch)
    runs_ingest(batch)
    assert otlp_flush()
    count = 0
    for _, _, body in received:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        count += sum(len(s.spans) for rs in request.resource_spans for s in rs.scope_spans)
    assert count == 1
