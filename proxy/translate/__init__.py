"""Translation between the unified endpoints' APIs and the providers' own (docs/translation.md).

One module per API reads and writes the common form (proxy.translate.ir):

- caller side (what a client sends to a unified endpoint): `read_request(body, target)`,
  `write_response(response, model, request)`, `StreamWriter(model, request)`;
- provider side (what a provider is sent): `write_request(request, target)`,
  `read_response(obj)`, `StreamReader()`.

The tables below pair them; `Translation` runs one call through a pair, request, answer and
stream alike, incrementally (each provider event is re-expressed as it arrives).
"""

from __future__ import annotations

import base64
from types import ModuleType
from typing import Any

import orjson

from hotpath.errors import BadRequest
from proxy import providers
from proxy.providers import anthropic, eventstream
from proxy.translate import chat, common, converse, gemini, messages, responses
from proxy.translate.ir import Request
from proxy.translate.sse import EventReader

# The caller APIs of the unified endpoints, and the APIs each provider is called in.
CALLER_APIS: dict[str, ModuleType] = {"chat": chat, "responses": responses, "messages": messages}
PROVIDER_APIS: dict[str, ModuleType] = {
    "openai": chat,
    "anthropic": messages,
    "gemini": gemini,
    "azure": chat,  # Azure OpenAI speaks OpenAI's API
    "converse": converse,  # Bedrock's models other than Anthropic's
}
# (Bedrock and Vertex AI are called in one of these APIs, by model: Translation's `wire`.)
# (caller API, provider) pairs that need no translation: the body goes as sent (model renamed).
NATIVE = frozenset(
    {
        ("chat", "openai"),
        ("responses", "openai"),
        ("messages", "anthropic"),
        ("chat", "azure"),
        ("responses", "azure"),
    }
)
# The error envelope each caller API's SDK parses.
CALLER_DIALECTS = {
    "chat": "openai",
    "responses": "openai",
    "messages": "anthropic",
    "count_tokens": "anthropic",
}


class Translation:
    """One call's translation between the caller's API and the provider's."""

    __slots__ = (
        "_events",
        "_failed",
        "_reader",
        "_writer",
        "caller",
        "dialect",
        "extra",
        "label",
        "model",
        "provider",
        "request",
        "target",
        "wire",
        "written",
    )

    def __init__(self, api: str, provider: str, model: str, label: str, wire: str = "") -> None:
        """`wire`: the API a cloud provider's model is called in (anthropic, gemini or
        converse), when it is not the provider's own name."""
        self.caller = CALLER_APIS[api]
        self.wire = wire or provider
        self.target = PROVIDER_APIS[self.wire]
        self.provider = provider
        self.extra: list[tuple[str, str]] = []
        self.dialect = CALLER_DIALECTS[api]
        self.model = model  # the provider's model name
        self.label = label  # the model as the caller named it, echoed in answers
        self.request: Request | None = None
        self._events: EventReader | eventstream.EventDecoder | None = None
        self._reader: Any = None
        self._writer: Any = None
        self._failed = False
        self.written: tuple[dict[str, Any], bytes] | None = None

    def body(self, caller_body: dict[str, Any]) -> bytes:
        """The provider's request body for the caller's (400 naming what cannot be expressed).
        Written once per caller body: asked again for the same dict, the same bytes."""
        if self.written is not None and self.written[0] is caller_body:
            return self.written[1]
        request = self.caller.read_request(caller_body, self.provider)
        request.model = self.model
        self.request = request
        written = self.target.write_request(request, self.provider)
        shape = getattr(providers.get(self.provider), "unified_body", None)
        if shape is not None and self.wire == "anthropic":
            # Claude on a cloud provider: its envelope (its version, betas in the body)
            own = [(k.encode(), v.encode()) for k, v in self._api_headers()]
            self.extra = shape(written, own)
        body = orjson.dumps(written)
        self.written = (caller_body, body)
        return body

    def _api_headers(self) -> list[tuple[str, str]]:
        if self.wire == "anthropic" and self.request is not None:
            return messages.request_headers(self.request)
        return []

    def headers(self) -> list[tuple[str, str]]:
        """The provider's own headers for the request `body` last wrote."""
        return self.extra if self.provider != self.wire else self._api_headers()

    def whole(self, status: int, data: bytes) -> bytes:
        """A whole provider answer (or error) in the caller's API."""
        if status >= 400:
            return providers.error_body(self.dialect, status, common.error_message(data))
        answer = self.target.read_response(orjson.loads(data))
        assert self.request is not None
        return orjson.dumps(self.caller.write_response(answer, self.label, self.request))

    def feed(self, chunk: bytes) -> bytes:
        """Provider stream bytes in, the caller's stream bytes out (whole events only)."""
        if self._events is None:
            assert self.request is not None
            # Bedrock streams AWS event stream frames, the others server-sent events.
            self._events = (
                eventstream.EventDecoder() if self.provider == "bedrock" else EventReader()
            )
            self._reader = self.target.StreamReader()
            self._writer = self.caller.StreamWriter(self.label, self.request)
        return self._write(self._events.feed(chunk))

    def _write(self, objs: list[Any]) -> bytes:
        out = b""
        for obj in objs:
            for event in self._reader.event(obj):
                if self._failed:
                    return out
                self._failed = event[0] == "error"
                out += self._writer.event(event)
        return out

    def flush(self) -> bytes:
        """The end of the provider's stream: the caller's closing events."""
        out = self.feed(b"")
        out += self._write(self._events.close())  # type: ignore[union-attr]
        return out if self._failed else out + self._writer.end()

    def stream_error(self, message: str) -> bytes:
        """The caller's own mid-stream error event."""
        if self._writer is None:
            self.feed(b"")
        return self._writer.error(message)


class Passthrough:
    """Anthropic Messages to Claude on a cloud provider (Bedrock, Vertex AI): the caller's own
    API, so its body goes on as sent, shaped as the provider takes it (its anthropic_version,
    no model; on Bedrock no stream and the anthropic-beta flags in the body: the providers'
    `unified_body`), and the answer comes back as sent, a Bedrock stream's frames decoded into
    the server-sent events the first-party API streams. Errors in Anthropic's envelope."""

    __slots__ = ("_decoder", "betas", "dialect", "extra", "model", "provider", "written")

    def __init__(self, provider: str, model: str, betas: str = "") -> None:
        self.provider = provider
        self.model = model
        self.betas = betas  # the caller's anthropic-beta header
        self.dialect = "anthropic"
        self.extra: list[tuple[str, str]] = []
        self.written: tuple[dict[str, Any], bytes] | None = None
        self._decoder: eventstream.EventDecoder | None = None

    def body(self, caller_body: dict[str, Any]) -> bytes:
        if self.written is not None and self.written[0] is caller_body:
            return self.written[1]
        if not isinstance(caller_body.get("messages"), list):
            raise BadRequest("`messages` must be a list of messages")
        shaped = dict(caller_body)  # (shaping replaces top-level fields only)
        beta = [(b"anthropic-beta", self.betas.encode("latin-1"))] if self.betas else []
        self.extra = providers.get(self.provider).unified_body(shaped, beta)
        body = orjson.dumps(shaped)
        self.written = (caller_body, body)
        return body

    def headers(self) -> list[tuple[str, str]]:
        return self.extra

    def whole(self, status: int, data: bytes) -> bytes:
        if status >= 400:
            return providers.error_body(self.dialect, status, common.error_message(data))
        return data

    def feed(self, chunk: bytes) -> bytes:
        if self.provider != "bedrock":
            return chunk
        if self._decoder is None:
            self._decoder = eventstream.EventDecoder()
        return eventstream.as_sse(self._decoder.feed(chunk))

    def flush(self) -> bytes:
        return b""

    def stream_error(self, message: str) -> bytes:
        return anthropic.stream_error_event("Messages", message)


# Anthropic's count_tokens in, another provider's token counter out: (its request body for
# the common form, the count in its answer).
COUNTERS: dict[str, tuple[Any, Any]] = {
    "openai": (responses.write_request, lambda obj: obj.get("input_tokens")),
    "gemini": (
        lambda req: {
            "generateContentRequest": {"model": f"models/{req.model}", **gemini.write_request(req)}
        },
        lambda obj: obj.get("totalTokens"),
    ),
    # Bedrock's CountTokens of a Converse request; Vertex AI's Gemini countTokens
    "bedrock/converse": (
        lambda req: {"input": {"converse": _converse_count(converse.write_request(req))}},
        lambda obj: obj.get("inputTokens"),
    ),
    "vertex/gemini": (gemini.write_request, lambda obj: obj.get("totalTokens")),
}
# Claude on a cloud provider counts the caller's own body (shaped, in the provider's
# envelope: `_cloud_count`): the count in its answer.
CLOUD_COUNTS = {
    "bedrock/anthropic": lambda obj: obj.get("inputTokens"),
    "vertex/anthropic": lambda obj: obj.get("input_tokens"),
}


def _converse_count(body: dict[str, Any]) -> dict[str, Any]:
    """What Bedrock counts of a Converse request (its messages, system and tools)."""
    return {k: v for k, v in body.items() if k in ("messages", "system", "toolConfig")}


class CountTranslation:
    """POST /v1/messages/count_tokens for another provider's model: its own counter's answer
    as Anthropic's `{"input_tokens": N}`. `wire`: the API a cloud provider's model is called
    in (Claude's is the caller's own: its body is counted as sent, in the cloud's envelope)."""

    __slots__ = ("betas", "dialect", "key", "model", "provider", "request", "written")

    def __init__(self, provider: str, model: str, wire: str = "", betas: str = "") -> None:
        self.provider = provider
        self.model = model
        self.key = f"{provider}/{wire}" if wire else provider  # in COUNTERS or CLOUD_COUNTS
        self.betas = betas  # the caller's anthropic-beta header (Claude on a cloud provider)
        self.dialect = "anthropic"
        self.request: Request | None = None
        self.written = None  # (nothing cached: counting is written each time)

    def body(self, caller_body: dict[str, Any]) -> bytes:
        if self.key in CLOUD_COUNTS:
            return self._cloud_count(caller_body)
        request = messages.read_request(caller_body, self.provider)
        request.model = self.model
        self.request = request
        return orjson.dumps(COUNTERS[self.key][0](request))

    def _cloud_count(self, caller_body: dict[str, Any]) -> bytes:
        """Bedrock: the InvokeModel body (which needs max_tokens) base64 in CountTokens' input;
        Vertex AI: the rawPredict body with the model, for its count-tokens model."""
        if not isinstance(caller_body.get("messages"), list):
            raise BadRequest("`messages` must be a list of messages")
        shaped = dict(caller_body)
        beta = [(b"anthropic-beta", self.betas.encode("latin-1"))] if self.betas else []
        providers.get(self.provider).unified_body(shaped, beta)
        if self.provider == "vertex":
            return orjson.dumps({**shaped, "model": self.model})
        shaped.setdefault("max_tokens", messages.DEFAULT_MAX_TOKENS)
        encoded = base64.b64encode(orjson.dumps(shaped)).decode()
        return orjson.dumps({"input": {"invokeModel": {"body": encoded}}})

    def headers(self) -> list[tuple[str, str]]:
        if self.provider == "vertex" and self.betas:
            return [("anthropic-beta", self.betas)]
        return []

    def whole(self, status: int, data: bytes) -> bytes:
        if status >= 400:
            return providers.error_body(self.dialect, status, common.error_message(data))
        read = CLOUD_COUNTS.get(self.key) or COUNTERS[self.key][1]
        count = read(orjson.loads(data))
        return orjson.dumps({"input_tokens": count if isinstance(count, int) else 0})
