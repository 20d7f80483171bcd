"""The project's own fake model provider: OpenAI, Anthropic and Gemini on one aiohttp server,
and the clouds' paths: AWS Bedrock (`/model/{id}/invoke|invoke-with-response-stream|converse|
converse-stream|count-tokens`: an API key, or a SigV4 signature it recomputes with botocore from
its own access key pair, and the binary event stream) and Google Vertex AI (`/v1/projects/...
/publishers/{anthropic,google}/models/...`, and Model Garden's catalogue at `/v1beta1/publishers/
{anthropic,google}/models`, paged; accepting only access tokens minted by its `/token` endpoint
for a JWT grant signed by its service account; devtools.fake_formats_cloud).

Used by the tests (in-process on port 0: `start_fake_provider`), by `make run` and by anyone
trying an agent roll-out offline (`manage.py fake_provider --port N`). It answers in each
provider's real wire format, streams included, with usage, and echoes the last user message
("Echo: <text>"), so callers can see what reached the provider. When the request offers tools,
it calls the first one (arguments `{"echo": <text>}`) unless the last message is a tool result.

The Responses API keeps what it answered (unless the request says `store: false`), so
retrieve, delete, cancel (of a `background` response) and `input_items` work on it, as do
`/v1/responses/compact` and `/v1/responses/input_tokens`; one model by id answers in each
dialect, and Gemini's embedContent and batchEmbedContents answer vectors with usage
(devtools.fake_formats_endpoints). Azure OpenAI's paths answer under /openai/ with its
api-version and api-key checks (devtools.fake_formats_azure).

Behaviours on request (headers, or a model named `error-<status>`):
- `x-fake-status: 429`   → that status with the provider's own error envelope;
- `x-fake-delay-ms: N`   → wait N ms before answering (a client leaving meanwhile is noticed);
- `x-fake-stream-pause-ms: N` → in a stream, pause N ms after the first event;
- `x-fake-die-after: N`  → in a stream, drop the connection after N events;
- `x-fake-usage: {json}` → merge this object into every usage object of the answer (`usage`,
  `usageMetadata`; streamed events included): cached tokens, negative or absurd counts...;
- `x-fake-fault: MODE`   → a misbehaving upstream, MODE one of
    `hang`            read the request, never answer (until the client leaves, at most 60 s);
    `hang-after:N`    in a stream, go silent after N events, connection open;
    `trickle:MS`      in a stream, send each event in 8-byte pieces, MS ms apart;
    `drop-after:N`    in a stream, drop the connection after N events (as x-fake-die-after);
    `reset`           read the request, then reset the connection (TCP RST), no answer;
    `garbage`         answer 200 with a body that is not JSON (streams: unparseable events);
    `huge-events`     pad every streamed event past 1 MiB (the usage event included).
A chat completion's `system_fingerprint` is a fingerprint of the provider key it received
(`key_fingerprint`), so tests see which secret the gateway sent.
Every request is recorded (method, path, query, headers, body) and readable as JSON at
`GET /__fake/requests` (cleared by `DELETE /__fake/requests`), with `usage`: the usage object
the answer reported (what this provider "bills"), `events_sent` for streams, and
`"disconnected": true` when the client went away first.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from devtools import fake_formats_azure as azure
from devtools import fake_formats_endpoints as endpoints
from devtools.fake_formats import (
    openai_answer,
    openai_error,
    openai_stream,
    responses_answer,
    responses_stream,
)
from devtools.fake_formats_anthropic_gemini import (
    anthropic_answer,
    anthropic_error,
    anthropic_stream,
    gemini_answer,
    gemini_error,
    gemini_stream,
)
from devtools.fake_formats_cloud import (
    bedrock_error_type,
    bedrock_foundation_models,
    bedrock_inference_profiles,
    converse_answer,
    converse_stream,
    publisher_models,
    sigv4_problem,
    verify_assertion,
)
from proxy.providers import eventstream

MAX_RECORDED = 1000
HUGE_EVENT_BYTES = 1024 * 1024 + 4096  # past the gateway's whole-event bound (proxy/sse.py)
HANG_SECONDS = 60.0


class FakeProvider:
    def __init__(self, *, record: bool = True) -> None:
        self.requests: list[dict[str, Any]] = []
        self.record = record  # off for benchmarks: recording costs a base64 per request
        # Stored Responses API responses: id → (the create request's body, the response).
        self.responses: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        self._next_response = 0
        # Vertex AI: access tokens minted by /token, and their lifetime in seconds
        self.access_tokens: set[str] = set()
        self.tokens_minted = 0
        self.token_lifetime = 3600
        # Vertex AI's model catalogue: a status of 400 or more refuses its listing
        self.model_list_status = 200

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        r = app.router
        r.add_get("/__fake/requests", self.list_requests)
        r.add_delete("/__fake/requests", self.clear_requests)
        r.add_post("/v1/chat/completions", self.handle)
        r.add_post("/v1/responses", self.handle)
        r.add_post("/v1/responses/compact", self.handle)
        r.add_post("/v1/responses/input_tokens", self.handle)
        r.add_get("/v1/responses/{response_id}", self.handle)
        r.add_delete("/v1/responses/{response_id}", self.handle)
        r.add_post("/v1/responses/{response_id}/cancel", self.handle)
        r.add_get("/v1/responses/{response_id}/input_items", self.handle)
        r.add_post("/v1/embeddings", self.handle)
        r.add_post("/v1/messages", self.handle)
        r.add_post("/v1/messages/count_tokens", self.handle)
        r.add_get("/v1/models", self.handle)
        r.add_get("/v1/models/{model_id}", self.handle)
        r.add_get("/v1beta/models", self.handle)
        r.add_get("/v1beta/models/{model_id}", self.handle)
        r.add_post("/v1beta/models/{model_action}", self.handle)
        r.add_post("/v1/models/{model_action}", self.handle)
        # Azure OpenAI (devtools.fake_formats_azure)
        r.add_post("/openai/deployments/{deployment}/chat/completions", self.handle)
        r.add_post("/openai/deployments/{deployment}/embeddings", self.handle)
        r.add_post("/openai/responses", self.handle)
        r.add_post("/openai/v1/{rest:chat/completions|responses|embeddings}", self.handle)
        # AWS Bedrock (bedrock-runtime's paths; the model id may be an ARN: slashes)
        r.add_post(
            "/model/{model:.+}/{bedrock_action:invoke|invoke-with-response-stream|converse"
            "|converse-stream|count-tokens}",
            self.handle,
        )
        # Bedrock's control plane (bedrock.<region>.amazonaws.com): its model catalogue
        r.add_get("/foundation-models", self.handle)
        r.add_get("/inference-profiles", self.handle)
        # Google Vertex AI, and the token endpoint of its service account exchange
        r.add_post("/token", self.token)
        r.add_post(
            "/{version:v1|v1beta1}/projects/{project}/locations/{location}/publishers/"
            "{publisher:anthropic|google}/models/{model_action}",
            self.handle,
        )
        # Model Garden's catalogue (publishers.models.list)
        r.add_get("/v1beta1/publishers/{publisher:anthropic|google}/models", self.handle)
        return app

    async def token(self, request: web.Request) -> web.Response:
        """The OAuth token endpoint: a JWT bearer grant signed by the fake service account's
        key (devtools.fake_formats_cloud) gets an access token the Vertex routes accept."""
        form = await request.post()
        token_uri = f"{request.scheme}://{request.host}{request.path}"
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return _token_error("unsupported_grant_type")
        try:
            verify_assertion(str(form.get("assertion", "")), token_uri)
        except ValueError as exc:
            return _token_error("invalid_grant", str(exc))
        self.tokens_minted += 1
        token = f"ya29.fake-{self.tokens_minted}-{base64.b32encode(os.urandom(10)).decode()}"
        self.access_tokens.add(token)
        return _json(
            {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}
        )

    async def list_requests(self, request: web.Request) -> web.Response:
        return web.json_response(self.requests, dumps=lambda o: orjson.dumps(o).decode())

    async def clear_requests(self, request: web.Request) -> web.Response:
        self.requests.clear()
        return web.json_response({"cleared": True})

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        entry: dict[str, Any] = (
            {}
            if not self.record
            else {
                "method": request.method,
                "path": request.path,
                "query": request.query_string,
                "headers": [[k, v] for k, v in request.headers.items()],
                "body": raw.decode("utf-8", "replace"),
                "body_b64": base64.b64encode(raw).decode(),
                "received_at": time.time(),
                "disconnected": False,
            }
        )
        override = request.headers.get("x-fake-usage")
        if override:
            entry["usage_override"] = orjson.loads(override)
        if self.record:
            if len(self.requests) >= MAX_RECORDED:
                del self.requests[0]
            self.requests.append(entry)
        body: dict[str, Any] = {}
        if raw:
            try:
                parsed = orjson.loads(raw)
                body = parsed if isinstance(parsed, dict) else {}
            except orjson.JSONDecodeError:
                return self._error(request, 400, "fake provider: body is not JSON")
        delay = int(request.headers.get("x-fake-delay-ms", "0") or 0)
        if delay and await _closed_during(request, delay / 1000):
            entry["disconnected"] = True
            return web.Response(status=499)
        fault = request.headers.get("x-fake-fault", "")
        if fault == "hang":
            entry["disconnected"] = await _closed_during(request, HANG_SECONDS)
            return web.Response(status=504)
        if fault == "reset":
            _reset(request)
            return web.Response(status=500)  # never sent: the connection is gone
        model = str(body.get("model") or request.match_info.get("model") or "")
        if "model_action" in request.match_info and "project" in request.match_info:
            model = request.match_info["model_action"].partition(":")[0]
        status = request.headers.get("x-fake-status")
        # (a Bedrock id names it after its provider: anthropic.error-500)
        named = model if model.startswith("error-") else model.rpartition(".")[2]
        if status is None and named.startswith("error-"):
            status = named.removeprefix("error-")
        if status is not None and status.isdigit() and int(status) >= 400:
            return self._error(request, int(status), f"fake provider error {status}")
        if fault == "garbage" and body.get("stream") is not True and "stream" not in request.path:
            return web.Response(body=b"<html>upstream proxy error</html>", content_type="text/html")
        return await self._answer(request, body, entry)

    def _error(self, request: web.Request, status: int, message: str) -> web.Response:
        path = request.path
        if path.startswith(("/model/", "/foundation-models", "/inference-profiles")):
            # AWS: the message, its type in a header
            return web.json_response(
                {"message": message},
                status=status,
                headers={"x-amzn-ErrorType": bedrock_error_type(status)},
            )
        if path.startswith(("/v1/projects/", "/v1beta1/projects/", "/v1beta1/publishers/")):
            return web.json_response(gemini_error(status, message), status=status)
        if path.startswith("/v1/messages") or (
            path.startswith("/v1/models") and "anthropic-version" in request.headers
        ):
            payload = anthropic_error(status, message)
        elif path.startswith("/v1beta/") or (
            path.startswith("/v1/models/") and (":" in path or "x-goog-api-key" in request.headers)
        ):
            payload = gemini_error(status, message)
        else:
            payload = openai_error(status, message)
        headers = {"request-id": "req_fake", "x-request-id": "req_fake"}
        if status == 429:
            headers["retry-after"] = "0"
        return web.json_response(
            payload, status=status, headers=headers, dumps=lambda o: orjson.dumps(o).decode()
        )

    async def _answer(
        self, request: web.Request, body: dict[str, Any], entry: dict[str, Any]
    ) -> web.StreamResponse:
        path = request.path
        stream = body.get("stream") is True
        if path.startswith("/model/"):
            return await self._bedrock(request, body, entry)
        if path in ("/foundation-models", "/inference-profiles"):
            return await self._bedrock_catalog(request)
        if path.startswith("/openai/"):
            return await self._azure(request, body, entry)
        if "project" in request.match_info:
            return await self._vertex(request, body, entry)
        if path.startswith("/v1beta1/publishers/"):
            return self._vertex_catalog(request)
        if path == "/v1/chat/completions":
            if stream:
                return await self._sse(request, openai_stream(body), entry, done=True)
            answer = openai_answer(body)
            answer["system_fingerprint"] = key_fingerprint(request)
            return self._json(answer, entry)
        if path == "/v1/responses":
            if stream:
                events = responses_stream(body)
                self._store(body, responses_answer(body))
                return await self._sse(request, events, entry)
            answer = responses_answer(
                body, status="queued" if body.get("background") else "completed"
            )
            self._next_response += 1
            answer["id"] = f"resp_fake{self._next_response}"
            self._store(body, answer)
            return self._json(answer, entry)
        if path.startswith("/v1/responses/"):
            return await self._responses_endpoint(request, body, entry)
        if path == "/v1/embeddings":
            return self._json(_embeddings(body), entry)
        if path == "/v1/messages":
            if stream:
                return await self._sse(request, anthropic_stream(body), entry)
            return self._json(anthropic_answer(body), entry)
        if path == "/v1/messages/count_tokens":
            return _json({"input_tokens": _count(body)})
        if "model_id" in request.match_info:
            model = request.match_info["model_id"]
            if "x-goog-api-key" in request.headers or path.startswith("/v1beta/"):
                return _json(endpoints.gemini_model(model, path.split("/")[1]))
            if "anthropic-version" in request.headers:
                return _json(endpoints.anthropic_model(model))
            return _json(endpoints.openai_model(model))
        if path == "/v1/models" and "x-goog-api-key" not in request.headers:
            if "anthropic-version" in request.headers:
                return _json(_anthropic_models())
            return _json(
                {
                    "object": "list",
                    "data": [
                        {"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"}
                        for m in ("gpt-4o-mini", "gpt-5", "text-embedding-3-small")
                    ],
                }
            )
        if path in ("/v1beta/models", "/v1/models"):
            return _json(
                {
                    "models": [
                        {"name": f"models/{m}", "displayName": m}
                        for m in ("gemini-2.5-flash", "gemini-2.5-pro")
                    ]
                }
            )
        model, _, action = request.match_info["model_action"].partition(":")
        if action == "countTokens":
            return _json({"totalTokens": _count(body)})
        if action == "streamGenerateContent":
            if request.query.get("alt") == "sse":
                return await self._sse(request, gemini_stream(body, model), entry)
            events = self._patched(request, gemini_stream(body, model), entry)
            elements = [e.partition(b"data: ")[2].strip() for e in events]
            if request.headers.get("x-fake-fault"):  # streamed, so that it can misbehave
                pieces = [b"[" + elements[0], *(b",\r\n" + e for e in elements[1:]), b"]"]
                return await self._write_stream(request, pieces, entry, "application/json")
            return _json([orjson.loads(e) for e in elements])
        if action == "generateContent":
            return self._json(gemini_answer(body, model), entry)
        if action == "embedContent":
            return self._json(endpoints.gemini_embed(body), entry)
        if action == "batchEmbedContents":
            return self._json(endpoints.gemini_batch_embed(body), entry)
        return self._error(request, 404, f"fake provider: no {action}")

    async def _azure(
        self, request: web.Request, body: dict[str, Any], entry: dict[str, Any]
    ) -> web.StreamResponse:
        """Azure OpenAI: the `api-key` header and (but on the v1 API) `api-version` are
        required, as Azure requires them; answers carry its content-filter annotations."""
        path, deployment, problem = azure.route(request.path, dict(request.query))
        if problem is not None:
            return _json(azure.error(404, problem), status=404)
        if not request.headers.get("api-key"):
            message = "Access denied due to invalid subscription key or wrong API endpoint."
            return _json(azure.error(401, message), status=401)
        if path == "/v1/chat/completions":
            if body.get("stream") is True:
                return await self._sse(
                    request, azure.chat_stream(body, deployment), entry, done=True
                )
            return self._json(azure.chat_answer(body, deployment), entry)
        if path == "/v1/embeddings":
            return self._json(_embeddings({**body, "model": azure.model_of(deployment)}), entry)
        if body.get("stream") is True:
            return await self._sse(request, responses_stream(body), entry)
        return self._json(responses_answer(body), entry)

    def _store(self, body: dict[str, Any], answer: dict[str, Any]) -> None:
        if body.get("store") is not False:
            self.responses[answer["id"]] = (body, answer)

    async def _responses_endpoint(
        self, request: web.Request, body: dict[str, Any], entry: dict[str, Any]
    ) -> web.StreamResponse:
        """compact, input_tokens, and retrieve / delete / cancel / input_items of a stored
        response (404 in OpenAI's envelope for an unknown id, as the API answers)."""
        path = request.path
        if path == "/v1/responses/compact":
            return self._json(endpoints.compacted(body), entry)
        if path == "/v1/responses/input_tokens":
            return _json(endpoints.input_tokens(body))
        response_id = request.match_info["response_id"]
        stored = self.responses.get(response_id)
        if stored is None:
            return self._error(request, 404, f"No response found with id '{response_id}'.")
        created, answer = stored
        if request.method == "DELETE":
            del self.responses[response_id]
            return _json(endpoints.deleted(response_id))
        if path.endswith("/cancel"):
            if not created.get("background"):
                return self._error(
                    request, 400, "Only responses created with background=true can be cancelled."
                )
            answer = {**answer, "status": "cancelled"}
            self.responses[response_id] = (created, answer)
            return _json(answer)
        if path.endswith("/input_items"):
            limit = int(request.query.get("limit", "20") or 20)
            items = endpoints.input_items(created, response_id)
            if request.query.get("order") == "asc":
                items.reverse()
            return _json(endpoints.item_list(items, limit=limit, after=request.query.get("after")))
        if request.query.get("stream") == "true":
            return await self._sse(request, responses_stream(created), entry)
        return _json(answer)

    async def _bedrock(
        self, request: web.Request, body: dict[str, Any], entry: dict[str, Any]
    ) -> web.StreamResponse:
        """Bedrock: the caller's API key, or a SigV4 signature by the fake's access key pair
        (checked); Anthropic models through InvokeModel, any model through Converse."""
        refused = await self._aws_refusal(request)
        if refused is not None:
            return refused
        model, action = request.match_info["model"], request.match_info["bedrock_action"]
        if action == "count-tokens":
            counted = body.get("input") or {}
            if isinstance(counted.get("invokeModel"), dict):
                try:
                    inner = orjson.loads(base64.b64decode(counted["invokeModel"].get("body", "")))
                except (ValueError, orjson.JSONDecodeError):
                    return self._error(request, 400, "input.invokeModel.body is not base64 JSON")
                if "model" in inner:
                    return self._error(request, 400, "extraneous key [model] is not permitted")
                entry["counted_body"] = inner
                return _json({"inputTokens": _count(inner)})
            return _json({"inputTokens": _count(counted.get("converse") or {})})
        if action.startswith("converse"):
            if not isinstance(body.get("messages"), list):
                return self._error(request, 400, "messages is required")
            if action == "converse":
                return self._json(converse_answer(body), entry)
            events = converse_stream(body)
            override = entry.get("usage_override")
            if override:
                events[-1][1]["usage"].update(override)
            entry["usage"] = events[-1][1]["usage"]
            frames = [eventstream.event(kind, payload) for kind, payload in events]
            return await self._write_stream(request, frames, entry, eventstream.CONTENT_TYPE)
        if "anthropic" not in model:
            return self._error(request, 400, "The provided model doesn't support this API")
        for extra in ("model", "stream"):
            if extra in body:
                return self._error(request, 400, f"extraneous key [{extra}] is not permitted")
        if not isinstance(body.get("anthropic_version"), str):
            return self._error(request, 400, "anthropic_version is required")
        betas = body.get("anthropic_beta", [])
        if not isinstance(betas, list) or not all(isinstance(b, str) for b in betas):
            return self._error(request, 400, "anthropic_beta must be a list of strings")
        if any(b.startswith("oauth-") for b in betas):
            return self._error(request, 400, "invalid beta flag")
        answer_body = {**body, "model": model}
        if action == "invoke":
            return self._json(anthropic_answer(answer_body), entry)
        events = self._patched(request, anthropic_stream(answer_body), entry)
        chunks = [orjson.loads(e.partition(b"data: ")[2]) for e in events]
        usage = entry.get("usage") or {}
        chunks[-1]["amazon-bedrock-invocationMetrics"] = {
            "inputTokenCount": usage.get("input_tokens", 0),
            "outputTokenCount": usage.get("output_tokens", 0),
            "invocationLatency": 12,
            "firstByteLatency": 5,
        }
        frames = [eventstream.chunk_event(chunk) for chunk in chunks]
        if request.headers.get("x-fake-fault") == "garbage":
            frames = [b"\x00\x00\x00\x10not an event stream"]
        return await self._write_stream(request, frames, entry, eventstream.CONTENT_TYPE)

    async def _aws_refusal(self, request: web.Request) -> web.Response | None:
        """The caller's API key, or a SigV4 signature by the fake's access key pair (checked):
        None when the request is authenticated, AWS's 403 otherwise."""
        auth = request.headers.get("authorization", "")
        if auth.startswith("AWS4-HMAC-SHA256 "):
            problem = sigv4_problem(
                method=request.method,
                url=f"{request.scheme}://{request.host}{request.raw_path}",
                headers={k.lower(): v for k, v in request.headers.items()},
                body=await request.read(),  # (aiohttp keeps the body it read)
                session_token=request.headers.get("x-amz-security-token"),
            )
            if problem is not None:
                return web.json_response(
                    {"message": problem},
                    status=403,
                    headers={"x-amzn-ErrorType": "InvalidSignatureException"},
                )
        elif not auth.startswith("Bearer "):
            return self._error(request, 403, "Missing Authentication Token")
        return None

    async def _bedrock_catalog(self, request: web.Request) -> web.Response:
        """Bedrock's control plane: ListFoundationModels (byOutputModality honoured) and
        ListInferenceProfiles, authenticated as the runtime is."""
        refused = await self._aws_refusal(request)
        if refused is not None:
            return refused
        if request.path == "/inference-profiles":
            return _json(bedrock_inference_profiles())
        return _json(bedrock_foundation_models(request.query.get("byOutputModality")))

    async def _vertex(
        self, request: web.Request, body: dict[str, Any], entry: dict[str, Any]
    ) -> web.StreamResponse:
        """Vertex AI: an access token from /token; Anthropic models (rawPredict) and Gemini."""
        auth = request.headers.get("authorization", "")
        if auth.removeprefix("Bearer ") not in self.access_tokens:
            return self._error(request, 401, "Request had invalid authentication credentials.")
        model, _, action = request.match_info["model_action"].partition(":")
        if request.match_info["publisher"] == "google":
            if action == "countTokens":
                return _json({"totalTokens": _count(body)})
            if action == "generateContent":
                return self._json(gemini_answer(body, model), entry)
            if action == "streamGenerateContent" and request.query.get("alt") == "sse":
                return await self._sse(request, gemini_stream(body, model), entry)
            return self._error(request, 404, f"fake provider: no {action} for Gemini")
        if not isinstance(body.get("anthropic_version"), str):
            return self._error(request, 400, "anthropic_version is required")
        if model == "count-tokens" and action == "rawPredict":
            return _json({"input_tokens": _count(body)})
        if "model" in body:
            return self._error(request, 400, "model: Extra inputs are not permitted")
        answer_body = {**body, "model": model}
        if action == "streamRawPredict" or body.get("stream") is True:
            return await self._sse(request, anthropic_stream(answer_body), entry)
        if action == "rawPredict":
            return self._json(anthropic_answer(answer_body), entry)
        return self._error(request, 404, f"fake provider: no {action} for Anthropic")

    def _vertex_catalog(self, request: web.Request) -> web.Response:
        """Model Garden's publisher models, a page at a time (pageSize, pageToken), for an
        access token from /token; `model_list_status` set answers that status instead."""
        auth = request.headers.get("authorization", "")
        if auth.removeprefix("Bearer ") not in self.access_tokens:
            return self._error(request, 401, "Request had invalid authentication credentials.")
        if self.model_list_status >= 400:
            return self._error(request, self.model_list_status, "Permission denied")
        size = request.query.get("pageSize", "0")
        try:
            return _json(
                publisher_models(
                    request.match_info["publisher"],
                    int(size) if size.isdigit() else 0,
                    request.query.get("pageToken", ""),
                )
            )
        except ValueError as exc:
            return self._error(request, 400, str(exc))

    def _json(self, payload: Any, entry: dict[str, Any]) -> web.Response:
        override = entry.get("usage_override")
        if override:
            _merge_usage(payload, override)
        entry["usage"] = _usage_of(payload)
        return _json(payload)

    def _patched(
        self, request: web.Request, events: list[bytes], entry: dict[str, Any]
    ) -> list[bytes]:
        """The events with the x-fake-usage override applied; records the final usage."""
        override = entry.get("usage_override")
        patched = []
        for event in events:
            head, sep, data = event.partition(b"data: ")
            try:
                obj = orjson.loads(data)
            except orjson.JSONDecodeError:
                patched.append(event)
                continue
            if override:
                _merge_usage(obj, override)
            usage = _usage_of(obj)
            if usage is not None:
                entry["usage"] = _merged_stream_usage(entry.get("usage"), usage)
            patched.append(head + sep + orjson.dumps(obj) + b"\n\n")
        return patched

    async def _sse(
        self,
        request: web.Request,
        events: list[bytes],
        entry: dict[str, Any],
        *,
        done: bool = False,
    ) -> web.StreamResponse:
        events = self._patched(request, events, entry)
        fault = request.headers.get("x-fake-fault", "")
        if fault == "garbage":
            events = [b"data: {not json at all\n\n", b"data: \x00\xff\xfe garbage\n\n"]
        elif fault == "huge-events":
            events = [_padded(e) for e in events]
        if done:
            events = [*events, b"data: [DONE]\n\n"]
        return await self._write_stream(request, events, entry, "text/event-stream")

    async def _write_stream(
        self, request: web.Request, pieces: list[bytes], entry: dict[str, Any], content_type: str
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"content-type": content_type, "cache-control": "no-cache"}
        )
        await response.prepare(request)
        pause = int(request.headers.get("x-fake-stream-pause-ms", "0") or 0) / 1000
        die_after = int(request.headers.get("x-fake-die-after", "0") or 0)
        fault, _, arg = request.headers.get("x-fake-fault", "").partition(":")
        if fault == "drop-after":
            die_after = int(arg or 0)
        hang_after = int(arg or 0) if fault == "hang-after" else -1
        entry["events_sent"] = 0
        write: Callable[[bytes], Any] = response.write
        if fault == "trickle":
            write = _trickle(response, int(arg or 10) / 1000)
        for index, piece in enumerate(pieces):
            if die_after and index >= die_after:
                if request.transport is not None:
                    request.transport.abort()
                return response
            if index == hang_after:
                entry["disconnected"] = await _closed_during(request, HANG_SECONDS)
                return response
            try:
                # (the last piece goes whole: an SDK hangs up as soon as it sees [DONE])
                await (response.write if index == len(pieces) - 1 else write)(piece)
            except (ConnectionResetError, RuntimeError):
                entry["disconnected"] = True
                return response
            entry["events_sent"] = index + 1
            if index == 0 and pause and await _closed_during(request, pause):
                entry["disconnected"] = True
                return response
        await response.write_eof()
        return response


async def _closed_during(request: web.Request, seconds: float) -> bool:
    """Sleep `seconds`, watching the connection; True as soon as the client has gone."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        transport = request.transport
        if transport is None or transport.is_closing():
            return True
        await asyncio.sleep(0.02)
    transport = request.transport
    return transport is None or transport.is_closing()


def key_fingerprint(request: web.Request) -> str:
    """`fp_` + 12 hex of SHA-256 of the provider key the request carried: a chat completion's
    `system_fingerprint`, so a test can tell which secret the gateway sent without seeing it."""
    auth = request.headers.get("authorization", "")
    key = auth.removeprefix("Bearer ").strip()
    return "fp_" + hashlib.sha256(key.encode()).hexdigest()[:12]


def _usage_of(obj: Any) -> dict[str, Any] | None:
    """The usage object of an answer or event, wherever the dialect puts it."""
    if isinstance(obj, list):
        found = [u for u in (_usage_of(item) for item in obj) if u is not None]
        return found[-1] if found else None
    if not isinstance(obj, dict):
        return None
    for key in ("usage", "usageMetadata"):
        if isinstance(obj.get(key), dict):
            return obj[key]
    for key in ("response", "message"):
        if isinstance(obj.get(key), dict):
            return _usage_of(obj[key])
    return None


def _merge_usage(obj: Any, override: dict[str, Any]) -> None:
    usage = _usage_of(obj)
    if usage is not None:
        usage.update(override)


def _merged_stream_usage(current: dict[str, Any] | None, usage: dict[str, Any]) -> dict[str, Any]:
    # Anthropic's message_delta carries only the final output count: later fields replace.
    return {**(current or {}), **usage}


def _padded(event: bytes) -> bytes:
    """The event with a JSON field that takes it past HUGE_EVENT_BYTES (usage kept)."""
    head, sep, data = event.partition(b"data: ")
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return event
    if isinstance(obj, dict):
        obj["padding"] = "p" * HUGE_EVENT_BYTES
    return head + sep + orjson.dumps(obj) + b"\n\n"


def _trickle(response: web.StreamResponse, interval: float) -> Callable[[bytes], Any]:
    async def write(data: bytes) -> None:
        for start in range(0, len(data), 8):
            await response.write(data[start : start + 8])
            await asyncio.sleep(interval)

    return write


def _reset(request: web.Request) -> None:
    """Close the connection with a TCP reset (SO_LINGER 0), as a crashed upstream does."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _token_error(error: str, description: str = "") -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=400)


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(payload), status=status, content_type="application/json")


def _count(body: dict[str, Any]) -> int:
    return max(
        1,
        len(orjson.dumps(body.get("messages") or body.get("contents") or body.get("input") or ""))
        // 4,
    )


def _embeddings(body: dict[str, Any]) -> dict[str, Any]:
    inputs = body.get("input")
    items = inputs if isinstance(inputs, list) else [inputs]
    tokens = sum(max(1, len(str(i)) // 4) for i in items)
    return {
        "object": "list",
        "model": body.get("model", ""),
        "data": [
            {
                "object": "embedding",
                "index": n,
                "embedding": [round(0.01 * (n + k), 4) for k in range(8)],
            }
            for n, _ in enumerate(items)
        ],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _anthropic_models() -> dict[str, Any]:
    models = [
        {"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}
        for m in ("claude-sonnet-4-5", "claude-haiku-4-5")
    ]
    return {
        "data": models,
        "has_more": False,
        "first_id": models[0]["id"],
        "last_id": models[-1]["id"],
    }


async def start_fake_provider(
    host: str = "127.0.0.1", port: int = 0, *, record: bool = True
) -> tuple[web.AppRunner, FakeProvider, int]:
    """Start on the running loop; returns (runner to clean up, the provider, the bound port)."""
    provider = FakeProvider(record=record)
    runner = web.AppRunner(provider.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    sockets = site._server.sockets if site._server is not None else []  # type: ignore[union-attr]
    return runner, provider, sockets[0].getsockname()[1]
