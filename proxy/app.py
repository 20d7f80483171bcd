"""The proxy: a small raw ASGI application mounted beside Django's (gateway_site/asgi.py).

No Django request machinery, no ORM and no sync_to_async on this path (docs/architecture.md):
one call = route → authenticate (in-process table) → read and parse the body → gates' before →
upstream exchange → usage and cost → gates' after → one CallRecord on the recorder's queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from typing import Any

import orjson
from django.conf import settings

from hotpath import changes, refusals
from hotpath.callrecord import CallRecord
from hotpath.context import RequestContext
from hotpath.gates import Gate, ProxyCall, load_gates
from hotpath.snapshot import Snapshot, refresh_due
from model_routes.snapshot import RouteTable, load_route_table
from orgs.keys import PERSONAL_PREFIX, SERVICE_PREFIX, parse_key
from pricing.table import PriceTable, Usage, cost
from pricing.usage import input_tokens_bound, settled, validated
from proxy import forward, providers, routing
from proxy.auth import KeyEntry, KeyTable, SecretTable, UpstreamSecret
from proxy.auth_build import load_key_table, load_secret_table
from proxy.errors import (
    AuthFailed,
    BadRequest,
    BodyTooLarge,
    CustomProviderMissing,
    Forbidden,
    PathNotAllowed,
    PolicyBlocked,
    ProxyError,
    RequestTimeout,
    UpstreamTimeout,
    UpstreamUnreachable,
    render,
)
from proxy.http_client import NotConnected, Response, UpstreamClient
from proxy.http_server import body_received
from proxy.ids import new_run_id
from proxy.record import Recorder
from proxy.request import (
    content_length,
    extract_key,
    gateway_options,
    host_allowed,
    upstream_headers,
    upstream_query,
)
from proxy.unified_calls import UnifiedCalls
from proxy.upstream import Upstream

logger = logging.getLogger(__name__)

# The caller's gateway key headers: never copied into call.headers.
KEY_HEADERS = frozenset((b"authorization", b"x-api-key", b"x-goog-api-key", b"api-key"))

Scope = dict[str, Any]
Receive = Any
Send = Any
WATCH_INTERVAL = 0.05  # seconds between the change watcher's polls


SHUT_DOWN = "the gateway shut down before the call ended"
# How long shutdown waits for the calls it cut short to be recorded.
SHUTDOWN_RECORD_SECONDS = 0.5


class ClientGone(Exception):
    """The client disconnected before its answer was complete."""


# How long an upstream exchange runs before the client is watched for a hang-up. Most calls
# end sooner, so they never pay for a watching task; a client that left earlier is seen then.
WATCH_CLIENT_AFTER = 0.05  # seconds


class DisconnectWatch:
    """Cancels the current task when its client hangs up, from WATCH_CLIENT_AFTER seconds on
    until `stop()`. A task only for the calls that last longer, started by the app's one sweep
    timer (DisconnectWatches): a call costs a set insertion, not a timer of its own.

    ASGI tells a disconnect only through `receive()` (once the body was read, the next message
    is `http.disconnect`), which must be awaited; the watching task does that, then cancels
    the call's task. The call tells its own cancellation from a server's by `gone()`."""

    __slots__ = ("_active", "_gone", "_pending", "_receive", "_task", "_watcher", "since")

    def __init__(self, receive: Receive, pending: DisconnectWatches) -> None:
        self._receive = receive
        self._task = asyncio.current_task()
        self._watcher: asyncio.Task[None] | None = None
        self._gone = False
        self._active = True
        self._pending = pending
        self.since = pending.add(self)

    def start(self) -> None:
        if self._active and self._watcher is None:
            self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        await forward.wait_disconnect(self._receive)
        if self._active and self._task is not None:
            self._gone = True
            self._task.cancel()

    def gone(self) -> bool:
        """True when this watch cancelled the call because its client hung up."""
        return self._gone

    def uncancel(self) -> bool:
        """Withdraw this watch's cancellation; True when another one (the server's) remains."""
        return self._task is not None and self._task.uncancel() > 0

    def stop(self) -> None:
        self._active = False
        self._pending.discard(self)
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None


class DisconnectWatches:
    """The watches of calls not yet WATCH_CLIENT_AFTER old, and the one timer (armed while
    any is pending, on the loop of the calls) that starts the watching task of those that are."""

    def __init__(self) -> None:
        self._pending: set[DisconnectWatch] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def add(self, watch: DisconnectWatch) -> float:
        """Register `watch`; returns the loop time it was registered at."""
        loop = asyncio.get_running_loop()
        self._pending.add(watch)
        if self._timer is None or self._loop is not loop:  # (a new loop: tests run several)
            self._loop = loop
            self._timer = loop.call_later(WATCH_CLIENT_AFTER, self._sweep)
        return loop.time()

    def discard(self, watch: DisconnectWatch) -> None:
        self._pending.discard(watch)

    def _sweep(self) -> None:
        self._timer = None
        loop = self._loop
        assert loop is not None
        due = loop.time() - WATCH_CLIENT_AFTER
        for watch in [w for w in self._pending if w.since <= due]:
            self._pending.discard(watch)
            watch.start()
        if self._pending:
            self._timer = loop.call_later(WATCH_CLIENT_AFTER / 2, self._sweep)


# The status a run records when the client hung up before any answer (no HTTP status was sent;
# 499 is the de facto code for it, as in nginx's logs).
CLIENT_CLOSED = 499


class ProxyApp(UnifiedCalls):
    """One instance per process; its resources live from lifespan start-up to shutdown."""

    def __init__(self) -> None:
        self.changes = changes.signal()
        self.keys: Snapshot[KeyTable] = Snapshot("keys", ("keys",), load_key_table)
        self.secrets: Snapshot[SecretTable] = Snapshot(
            "provider secrets", ("secrets",), load_secret_table
        )
        self.prices: Snapshot[PriceTable] = Snapshot("prices", ("prices",), PriceTable.load)
        self.routes: Snapshot[RouteTable] = Snapshot("routes", ("routes",), load_route_table)
        self._watcher: asyncio.Task[None] | None = None
        self._rehashing: set[int] = set()
        self.upstream = Upstream()
        self.recorder = Recorder()
        self.gates: list[Gate] = load_gates()
        self.inflight = 0  # calls being served now (read by tests and the bench)
        self.watches = DisconnectWatches()
        self.max_body = settings.GATEWAY_MAX_BODY_BYTES
        self.body_timeout = settings.GATEWAY_HTTP_BODY_TIMEOUT
        self._hosts: dict[bytes, bool] = {}  # Host header → allowed (bounded: see _host_ok)
        self.trace_limit = settings.GATEWAY_TRACE_CONTENT_MAX_BYTES
        self.base_urls = {
            "openai": settings.GATEWAY_OPENAI_BASE_URL.rstrip("/"),
            "anthropic": settings.GATEWAY_ANTHROPIC_BASE_URL.rstrip("/"),
            "gemini": settings.GATEWAY_GEMINI_BASE_URL.rstrip("/"),
        }

    async def startup(self) -> None:
        await self.upstream.start()
        self.recorder.start()
        self.changes.watch()
        for snapshot in (self.keys, self.secrets, self.prices, self.routes):
            await snapshot.reload()
        self._watcher = asyncio.get_running_loop().create_task(
            self._watch_changes(), name="gateway-changes"
        )

    async def shutdown(self) -> None:
        # The server cancels the calls its graceful timeout cut short just before this; they
        # record themselves as they unwind, and the recorder's last flush must include them.
        # Records go first: whatever comes after may be cut by the server's kill.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SHUTDOWN_RECORD_SECONDS
        while self.inflight and loop.time() < deadline:
            await asyncio.sleep(0.005)
        await self.recorder.stop()
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        await self.upstream.close()

    async def _watch_changes(self) -> None:
        """A few times a second, take in signalled changes and reload what they made stale,
        so an idle process is current before its next call (calls also poll: a call never
        depends on this task to see a change)."""
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            try:
                self.changes.poll()
                refresh_due()
            except Exception:
                logger.exception("change watcher failed; retrying")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.handle(scope, receive, send)
        elif scope["type"] == "lifespan":
            await lifespan(self, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if path == "/health":
            await self._health(send)
            return
        route = routing.match(scope["method"], path)
        dialect = route.dialect if route is not None else routing.dialect_of(path) or "openai"
        call: ProxyCall | None = None
        entry: KeyEntry | None = None
        ran: list[Gate] = []
        self.inflight += 1
        try:
            if not self._host_ok(scope["headers"]):
                raise BadRequest("the Host header names no host this gateway serves")
            if route is None:
                raise PathNotAllowed()
            self.changes.poll()
            keys = self.keys.current()
            if keys is None:
                keys = await self.keys.get()
            presented = extract_key(scope["headers"], scope["query_string"])
            entry = keys.authenticate(presented)
            if keys.needs_rehash(entry):
                self._rehash(entry.key_id, presented, entry.pepper_id)  # type: ignore[arg-type]
            if entry.ctx is None:
                keys.authorize(entry)  # organization-scoped key: 403, nothing to record
            call = self._new_call(entry.ctx, route, scope)  # type: ignore[arg-type]
            keys.authorize(entry)
            body, secret = await self._prepare(call, route, scope, receive)
            for gate in self.gates:
                ran.append(gate)
                await gate.before(call)
            if route.api == "models":
                await self._list_models(call, send)
            else:
                await self._exchange(call, route, scope, receive, send, body, secret)
        except ProxyError as exc:
            if call is None:
                self._refused(exc, scope, entry)
            await self._send_error(exc, dialect, call, send)
        except ClientGone:
            if call is not None:
                call.record.error = "client disconnected"
                if call.http_status is None:
                    call.http_status = call.record.http_status = CLIENT_CLOSED
        except asyncio.CancelledError:
            # Only the server cancels a call: its graceful shutdown timed out on it.
            if call is not None:
                call.record.error = SHUT_DOWN
            raise
        except Exception:
            # A bug, not a refusal: logged with its traceback, answered as a 500 in the
            # caller's envelope when no response has started, and recorded as an error.
            logger.exception("unexpected error in the proxy on %s", path)
            if call is None or call.http_status is None:
                await self._send_error(ProxyError("internal gateway error"), dialect, call, send)
            elif call is not None:
                call.record.error = "internal gateway error"
        finally:
            if call is not None:
                await self._finish(call, ran)
            self.inflight -= 1

    def _refused(self, exc: ProxyError, scope: Scope, entry: KeyEntry | None) -> None:
        """Count a call refused before a workspace was known (a security event, no run)."""
        if isinstance(exc, PathNotAllowed):
            reason = refusals.PATH_NOT_ALLOWED
        elif isinstance(exc, AuthFailed):
            reason = refusals.INVALID_KEY
        elif isinstance(exc, Forbidden) and entry is not None:
            reason = refusals.ORGANIZATION_KEY
        else:
            return  # not a refusal of the caller (e.g. 503 while starting)
        presented = extract_key(scope["headers"], scope["query_string"])
        if presented is None and reason == refusals.INVALID_KEY:
            reason = refusals.MISSING_KEY
        parsed = parse_key(presented) if presented else None
        prefix = ""
        if parsed is not None:  # only the public lookup part of a well-formed key
            kind = SERVICE_PREFIX if parsed.kind == "service" else PERSONAL_PREFIX
            prefix = kind + parsed.lookup_id
        client = scope.get("client")
        self.recorder.refuse(
            reason=reason,
            key_prefix=prefix,
            client_address=str(client[0])[:64] if client else "",
            organization_id=entry.organization_id if entry is not None else None,
            path=scope["path"],
        )

    def _new_call(self, ctx: RequestContext, route: routing.Route, scope: Scope) -> ProxyCall:
        run_id = new_run_id()
        record = CallRecord(
            run_id=run_id,
            trace_id=run_id,
            started_at=time.time(),
            organization_id=ctx.organization_id,
            workspace_id=ctx.workspace_id,
            key_id=ctx.key_id,
            key_prefix=ctx.key_prefix,
            user_id=ctx.user_id,
            name=route.endpoint,
            dialect=route.body_dialect,
            provider=route.secret or route.dialect,
            model=route.model,
            method=scope["method"],
            path=scope["path"],
            stream=route.stream,
        )
        return ProxyCall(
            ctx=ctx,
            dialect=route.body_dialect,
            endpoint=route.endpoint,
            model=route.model,
            body=None,
            stream=route.stream,
            record=record,
        )

    async def _prepare(
        self,
        call: ProxyCall,
        route: routing.Route,
        scope: Scope,
        receive: Receive,
    ) -> tuple[bytes, Any]:
        """Read the body, learn model and stream, check the secret: 400/413/424 before gates."""
        headers = scope["headers"]
        received: dict[str, str] = {}
        options = False  # any x-gateway-* header (most calls have none: one pass is enough)
        for name, value in headers:
            if name not in KEY_HEADERS:
                received[name.decode("latin-1")] = value.decode("latin-1")
                options = options or name.startswith(b"x-gateway-")
        project, metadata = gateway_options(headers) if options else (None, {})
        call.record.project_name = project or "gateway"
        call.record.customer = metadata.pop("customer", "")
        call.record.request_metadata = metadata
        call.headers = received
        call.record.user_agent = received.get("user-agent", "")[:300]
        raw = await read_body(receive, headers, self.max_body, self.body_timeout)
        if scope["method"] == "POST" and (raw.strip() or route.endpoint not in routing.BODYLESS):
            call.body = parse_body(raw)
            adapt = getattr(providers.get(route.dialect), "prepare_call", None)
            if adapt is not None:  # a body reshaped before the gates read it (Bedrock)
                adapt(call, headers)
            model = call.body.get("model")
            if not call.model and isinstance(model, str):
                call.model = model
            call.stream = route.stream or call.body.get("stream") is True
        elif b"stream=true" in scope["query_string"]:
            call.stream = True  # a stored response replayed as a stream (Responses retrieve)
        dialect = route.dialect
        if route.api and call.body is not None:
            dialect = await self._resolve_unified(call, route)
        call.record.model = call.model
        call.record.stream = call.stream
        prices = self.prices.current()
        if prices is None:
            prices = await self.prices.get()
        call.price = prices.get(providers.price_name(dialect, call.model))
        secrets = self.secrets.current()
        if secrets is None:
            secrets = await self.secrets.get()
        if route.api == "models":  # lists what the workspace's secrets reach, whichever they are
            return raw, UpstreamSecret("")
        custom = route.secret or (call.target.current.secret if call.target is not None else "")
        if custom:
            return raw, self._custom_upstream(call, custom, secrets)
        creds = providers.credentials(dialect, secrets.get(call.ctx.workspace_id, {}))
        resolve = getattr(providers.get(dialect), "resolve_call", None)
        if resolve is not None and not route.api:  # the model and path depend on the workspace
            resolve(call, creds, route.upstream_path, upstream_query(scope["query_string"]))
            call.price = prices.get(providers.price_name(dialect, call.model))
        return raw, creds

    @staticmethod
    def _custom_upstream(call: ProxyCall, key: str, secrets: SecretTable) -> UpstreamSecret:
        """The workspace's custom provider `key` ("custom/NAME"): 404 when the workspace has
        none of that name (whoever else has one), 400 for a model off its model list."""
        upstream = secrets.get(call.ctx.workspace_id, {}).get(key)
        name = key.partition("/")[2]
        if upstream is None:
            raise CustomProviderMissing(
                f"this workspace has no custom provider named {name}: a workspace admin can add "
                "it under Settings → Integrations"
            )
        if upstream.models and call.body is not None and call.model not in upstream.models:
            raise BadRequest(
                f"model {call.model or '(none)'} is not offered by custom provider {name} "
                f"(its models: {', '.join(sorted(upstream.models))})"
            )
        return upstream

    async def _exchange(
        self,
        call: ProxyCall,
        route: routing.Route,
        scope: Scope,
        receive: Receive,
        send: Send,
        body: bytes,
        secret: Any,  # the provider's credentials (providers.credentials)
    ) -> None:
        client = self.upstream.client
        if client is None:  # the lifespan start-up has not run (or shutdown has)
            raise ProxyError("the gateway is not serving yet", status=503)
        if call.target is not None:  # a unified endpoint: its candidates, in turn
            exchange = self._forward_unified(call, scope, client, send, secret)
        else:
            provider = providers.get(route.dialect)
            if call.body is not None:
                changed = provider.prepare_body(call.endpoint, call.body, stream=call.stream)
                if changed or call.body_changed:
                    body = orjson.dumps(call.body)
                if call.ctx.trace_content:
                    call.record.request_content = forward.bounded_content(body, self.trace_limit)
            query = upstream_query(scope["query_string"])
            base = secret.base_url or self.base_urls.get(route.dialect)
            if not base:  # a provider whose origin depends on the region or location
                base = provider.default_base_url(secret, route.upstream_path)
            if call.upstream_path is not None:  # decided with the credentials (query included)
                url = base + call.upstream_path
            else:
                url = base + route.upstream_path
                if query:
                    url = f"{url}?{query}"
            authorize = getattr(provider, "authorize", None)
            if authorize is None:
                auth = provider.auth_header(secret.secret) if secret.secret else None
                headers = upstream_headers(scope["headers"], auth, secret.headers)
            else:  # signed per request (SigV4) or a minted access token
                headers = await authorize(
                    secret, scope["method"], url, upstream_headers(scope["headers"]), body
                )
            exchange = self._forward(call, route, client, scope["method"], url, headers, body, send)
        # The exchange runs in this task, under a watch on the client: a client that hangs up
        # cancels it (the upstream connection is closed, so the provider stops), whether the
        # answer is streamed or not; the run says so.
        watch = DisconnectWatch(receive, self.watches)
        try:
            await exchange
        except (asyncio.CancelledError, Exception) as exc:
            # Whatever the cancelled exchange raised on its way out, the client has gone;
            # unless the server cancelled the call too (shutdown), which goes on up.
            if watch.gone() and not (watch.uncancel() and isinstance(exc, asyncio.CancelledError)):
                raise ClientGone() from None
            raise
        else:
            if watch.gone():  # the exchange ended anyway, the client having left meanwhile
                watch.uncancel()
                raise ClientGone()
        finally:
            watch.stop()

    async def _forward(
        self,
        call: ProxyCall,
        route: routing.Route,
        client: UpstreamClient,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes,
        send: Send,
    ) -> None:
        resp = await self._open(call, route, client, method, url, headers, body)
        await self._relay(call, route, resp, send)

    async def _open(
        self,
        call: ProxyCall,
        route: routing.Route,
        client: UpstreamClient,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> Response:
        """Send the request upstream; the response once its headers arrived (502/504 else)."""
        timeout, _ = self.upstream.timeouts(route)
        call.sent_body = body  # from here on the provider may bill the call
        try:
            return await forward.open_upstream(client, method, url, headers, body, timeout)
        except (UpstreamUnreachable, UpstreamTimeout, BadRequest) as exc:
            if isinstance(exc.__cause__, NotConnected):
                call.sent_body = None  # never sent: nothing reached the provider
            raise

    async def _relay(
        self, call: ProxyCall, route: routing.Route, resp: Response, send: Send
    ) -> None:
        """The provider's answer to the client, whole or streamed: the first byte is sent here."""
        provider = providers.get(route.dialect)
        _, idle = self.upstream.timeouts(route)
        call.upstream_status = resp.status
        call.http_status = call.record.http_status = resp.status
        streamed = resp.content_type.startswith(forward.STREAM_TYPES)
        # (a unified call's usage is read in the called provider's endpoint: route's)
        endpoint = route.endpoint if call.target is not None else call.endpoint
        if streamed or (call.stream and resp.status < 300):
            await forward.relay_stream(
                resp,
                call,
                provider,
                send,
                idle_timeout=idle,
                trace_limit=self.trace_limit,
                endpoint=endpoint,
            )
            if not route.billed:
                call.usage = None  # a replay of a stored response: billed when it was made
        else:
            await forward.relay_whole(
                resp,
                call,
                provider,
                send,
                billed=route.billed,
                trace_limit=self.trace_limit,
                endpoint=endpoint,
            )
        if resp.status >= 400 and call.record.error is None:
            call.record.error = f"upstream answered {resp.status}"

    async def _send_error(
        self, exc: ProxyError, dialect: str, call: ProxyCall | None, send: Send
    ) -> None:
        meta: dict[str, Any] = {"provider": dialect}
        if call is not None:
            meta = forward.gateway_metadata(call, exc.outcome)
            call.http_status = call.record.http_status = exc.status
            call.record.error = exc.message
            if isinstance(exc, PolicyBlocked):
                call.record.status = "blocked"
        status, headers, body = render(exc, dialect, meta)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _finish(self, call: ProxyCall, ran: list[Gate]) -> None:
        """Price the call, run every gate's after(), and queue the record. Never raises."""
        record = call.record
        call.usage = usage = self._charged_usage(call)
        if call.price is not None:
            call.cost_usd = cost(call.price, usage)
        elif call.endpoint in routing.UNBILLED:
            call.cost_usd = 0.0
        elif call.model:
            record.price_missing = True  # cost stays None: unknown, never a silent 0
        for gate in ran:
            try:
                await gate.after(call)
            except Exception:
                logger.exception("gate %s failed in after()", type(gate).__name__)
        record.ended_at = time.time()
        record.input_tokens = usage.input_tokens
        record.output_tokens = usage.output_tokens
        record.cache_read_tokens = usage.cache_read_tokens
        record.cache_write_tokens = usage.cache_write_tokens
        record.reasoning_tokens = usage.reasoning_tokens
        record.audio_input_tokens = usage.audio_input_tokens
        record.audio_output_tokens = usage.audio_output_tokens
        record.cost_usd = call.cost_usd
        if record.status != "blocked" and (record.error is not None or record.http_status >= 400):
            record.status = "error"
        self.recorder.submit(record)
        self.recorder.touch_key(call.ctx.key_id)

    def _charged_usage(self, call: ProxyCall) -> Usage:
        """The usage the call is charged: the provider's counts, validated; for a billed call
        that reached the provider and was not refused by it, what the provider did not report
        is estimated (pricing.usage), so hanging up or a broken stream never makes it free.
        Any estimate or correction is flagged on the record."""
        notes: list[str] = []
        usage = call.usage
        if usage is not None:
            usage, notes = validated(usage)
        refused = call.upstream_status is not None and call.upstream_status >= 400
        if call.sent_body is not None and call.endpoint not in routing.UNBILLED and not refused:
            bound = 0  # only read when the provider reported no input (counting costs a scan)
            if usage is None or usage.input_tokens <= 0:
                window = call.price.context_window if call.price is not None else None
                bound = input_tokens_bound(call.sent_body, window)
            usage, reason = settled(
                usage,
                input_bound=bound,
                streamed_events=call.streamed_events,
                complete=call.complete,
            )
            if reason is not None:
                notes.insert(0, reason)
        if notes:
            call.record.usage_estimated = True
            call.record.usage_note = "; ".join(notes)[:500]
        return usage or Usage()

    def _host_ok(self, headers: list[tuple[bytes, bytes]]) -> bool:
        """The Host header against ALLOWED_HOSTS, as Django checks its own routes; verdicts are
        cached per value (at most 1,000, so random Host values cannot grow memory)."""
        host = b""
        for name, value in headers:
            if name == b"host":
                host = value
                break
        verdict = self._hosts.get(host)
        if verdict is None:
            verdict = host_allowed(host)
            if len(self._hosts) < 1000:
                self._hosts[host] = verdict
        return verdict

    async def _health(self, send: Send) -> None:
        ready = self.keys.value is not None and self.upstream.session is not None
        body = orjson.dumps({"status": "ok" if ready else "starting"})
        await send(
            {
                "type": "http.response.start",
                "status": 200 if ready else 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _rehash(self, key_id: int, plaintext: str, pepper_id: str) -> None:
        """Re-hash a key verified under an older pepper, off the request path, once."""
        if key_id in self._rehashing:
            return
        self._rehashing.add(key_id)

        def rehash() -> None:
            from django.db import close_old_connections

            from orgs.services import api_key_rehash

            close_old_connections()
            try:
                api_key_rehash(key_id=key_id, plaintext=plaintext, from_pepper_id=pepper_id)
            except Exception:
                logger.exception("could not re-hash key %s under the newest pepper", key_id)
            finally:
                close_old_connections()

        future = asyncio.get_running_loop().run_in_executor(None, rehash)
        future.add_done_callback(lambda _: self._rehashing.discard(key_id))


def parse_body(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest("the request body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


async def read_body(
    receive: Receive, headers: list[tuple[bytes, bytes]], limit: int, timeout: float
) -> bytes:
    """The whole request body: 400 for an invalid Content-Length, 413 as soon as it (or its
    Content-Length) passes `limit`, 408 when the client sends nothing for `timeout` seconds."""
    length = content_length(headers)
    if length is not None and length > limit:
        raise BodyTooLarge(f"the request body is larger than {limit} bytes")
    if body_received(receive):  # all in already (most calls): no wait to bound
        return await _receive_body(receive, limit, None, timeout)
    try:
        async with asyncio.timeout(timeout) as deadline:
            return await _receive_body(receive, limit, deadline, timeout)
    except TimeoutError:
        raise RequestTimeout(
            f"the request body did not arrive: nothing was received for {timeout:g} s"
        ) from None


async def _receive_body(
    receive: Receive, limit: int, deadline: asyncio.Timeout | None, timeout: float
) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"the request body is larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if deadline is not None:
            deadline.reschedule(asyncio.get_running_loop().time() + timeout)


async def lifespan(app: ProxyApp, receive: Receive, send: Send) -> None:
    """ASGI lifespan for the proxy alone (gateway_site.asgi runs the same for the whole site)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                await app.startup()
            except Exception as exc:
                logger.exception("gateway proxy failed to start")
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            # Everything loaded so far (Django, models, the key snapshot) lives as long as the
            # worker: keep it out of the garbage collector's scans of the request garbage.
            gc.collect()
            gc.freeze()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await app.shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return
