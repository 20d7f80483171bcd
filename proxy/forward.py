"""The upstream exchange of one call: send it, then relay the answer whole or as a stream.

The request body goes upstream byte for byte unless a gate or the include_usage rule changed
it. Upstream errors are relayed with their status and body untouched. Streams are relayed as
each chunk arrives (no buffering); a client that disconnects cancels the upstream request (the
response is closed in `finally`, so the provider sees the connection go); an upstream that
dies mid-stream ends the client's stream with the dialect's error event, and the call is
recorded as an error.
"""

from __future__ import annotations

import asyncio
import time
from types import ModuleType
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from proxy.errors import BadRequest, UpstreamTimeout, UpstreamUnreachable, metadata_header
from proxy.http_client import Response, UnsafeRequest, UpstreamClient
from proxy.providers.eventstream import SseBridge
from proxy.request import DROP_RESPONSE
from proxy.sse import UsageScanner

if TYPE_CHECKING:
    from hotpath.gates import ProxyCall

Send = Any
Receive = Any
# Content types of a streamed answer: server-sent events, and AWS's binary event stream.
STREAM_TYPES = ("text/event-stream", "application/vnd.amazon.eventstream")


def gateway_metadata(call: ProxyCall, outcome: str) -> dict[str, Any]:
    return {
        "outcome": outcome,
        "provider": call.record.provider or call.dialect,
        "model": call.model,
        "trace_id": call.record.trace_id,
        **call.metadata,
    }


def _response_headers(resp: Response, call: ProxyCall) -> list[tuple[bytes, bytes]]:
    """The upstream's headers as it sent them (raw bytes: no decode/re-encode per header),
    minus DROP_RESPONSE, plus x-gateway-metadata. Names are lowercased for ASGI."""
    headers = []
    for name, value in resp.raw_headers:
        name = name.lower()
        if name not in DROP_RESPONSE:
            headers.append((name, value))
    outcome = "success" if resp.status < 400 else "error"
    headers.append((b"x-gateway-metadata", metadata_header(gateway_metadata(call, outcome))))
    return headers


def bounded_content(data: bytes, limit: int) -> Any:
    """What a trace keeps of a body: the JSON when it fits in `limit`, else a text prefix."""
    if len(data) <= limit:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            return data.decode("utf-8", "replace")
    return data[:limit].decode("utf-8", "replace")


async def open_upstream(
    client: UpstreamClient,
    method: str,
    url: str,
    headers: list[tuple[str, str]],
    body: bytes,
    timeout: aiohttp.ClientTimeout,
) -> Response:
    """The upstream response (headers read), or 504 / 502 in the caller's dialect. The
    caller's User-Agent goes upstream when it sent one; none is added."""
    try:
        return await client.request(
            method,
            url,
            headers,
            body,
            read_timeout=timeout.sock_read,
            connect_timeout=timeout.sock_connect,
        )
    except UnsafeRequest as exc:  # (its message names no value: it may be a secret)
        raise BadRequest(f"the request cannot be sent upstream: {exc}") from exc
    except TimeoutError as exc:
        raise UpstreamTimeout("the upstream provider did not answer in time") from exc
    except aiohttp.ClientError as exc:
        raise UpstreamUnreachable(
            f"the upstream provider is unreachable ({type(exc).__name__})"
        ) from exc


async def relay_whole(
    resp: Response,
    call: ProxyCall,
    provider: ModuleType,
    send: Send,
    *,
    billed: bool,
    trace_limit: int,
    endpoint: str = "",
) -> None:
    """Read the whole upstream body, take usage from it, send it on (through the filters).

    A 2xx answer whose body is not JSON (every provider answers JSON) is an upstream fault:
    the caller gets 502 in its own envelope rather than a body its SDK cannot parse."""
    try:
        data = await resp.read()
    except TimeoutError as exc:
        raise UpstreamTimeout("the upstream provider stopped answering") from exc
    except aiohttp.ClientError as exc:
        raise UpstreamUnreachable(
            f"the upstream provider broke the connection ({type(exc).__name__})"
        ) from exc
    finally:
        resp.release()
    call.record.first_token_at = time.time()
    if resp.status < 300:
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            if call.ctx.trace_content:
                call.record.response_content = bounded_content(data, trace_limit)
            raise UpstreamUnreachable(
                f"the upstream provider answered {resp.status} with a body that is not JSON "
                f"({len(data)} bytes)"
            ) from exc
        call.complete = True
        if billed:
            call.usage = provider.usage_from_body(endpoint or call.endpoint, parsed)
    if call.ctx.trace_content:
        call.record.response_content = bounded_content(data, trace_limit)
    if call.target is not None and call.target.translation is not None:
        data = call.target.translation.whole(resp.status, data)  # the caller's API from here
    for response_filter in call.response_filters:
        data = response_filter.filter_body(data)
    headers = _response_headers(resp, call)
    headers.append((b"content-length", str(len(data)).encode()))
    await send({"type": "http.response.start", "status": resp.status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def relay_stream(
    resp: Response,
    call: ProxyCall,
    provider: ModuleType,
    send: Send,
    *,
    idle_timeout: float,
    trace_limit: int,
    endpoint: str = "",
) -> None:
    """Relay a stream until it ends or the upstream dies (the caller's task is cancelled when
    the client goes away: proxy.app watches for the disconnect).

    After the first chunk, the upstream may stay silent at most `idle_timeout` seconds between
    two chunks (the first one waits the read timeout: a model may think before answering). An
    upstream that dies mid-stream ends an SSE stream with the dialect's own error event and no
    success terminator, so SDKs raise instead of accepting a truncated answer; a JSON stream
    (Gemini without alt=sse) cannot carry one, so its connection is dropped unfinished."""
    endpoint = endpoint or call.endpoint
    content_type = resp.content_type
    sse = content_type.startswith("text/event-stream")
    framed = content_type.startswith(STREAM_TYPES[1])  # the AWS event stream
    scanner: Any = UsageScanner(provider, endpoint, sse=sse)
    filters = call.response_filters
    translation = call.target.translation if call.target is not None else None
    headers = _response_headers(resp, call)
    if framed:  # like SSE, it can end with an error (an exception frame)
        sse = True
        # the trace keeps the decoded events (readable), not the binary frames
        scanner = provider.stream_scanner(
            endpoint, trace_limit=trace_limit if call.ctx.trace_content else 0
        )
        if translation is not None:  # decoded into the caller's server-sent events
            headers = [
                (name, b"text/event-stream" if name == b"content-type" else value)
                for name, value in headers
            ]
        elif filters:  # filters read server-sent events: bridge them to the binary frames
            filters = [SseBridge(filters)]
    await send({"type": "http.response.start", "status": resp.status, "headers": headers})
    kept: list[bytes] | None = [] if call.ctx.trace_content and not framed else None
    kept_size = 0
    failure: str | None = None
    loop = asyncio.get_running_loop()
    try:
        chunks = resp.content.iter_any().__aiter__()
        async with asyncio.timeout(None) as deadline:
            while True:
                # Only the wait for the upstream counts as silence (not a slow client's reads);
                # before the first chunk aiohttp's read timeout applies.
                if call.record.first_token_at is not None:
                    deadline.reschedule(loop.time() + idle_timeout)
                try:
                    chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    break
                deadline.reschedule(None)
                if call.record.first_token_at is None:
                    call.record.first_token_at = time.time()
                scanner.feed(chunk)
                if kept is not None and kept_size < trace_limit:
                    kept.append(chunk[: trace_limit - kept_size])
                    kept_size += len(kept[-1])
                if translation is not None:  # the caller's API from here
                    chunk = translation.feed(chunk)
                for response_filter in filters:
                    chunk = response_filter.feed(chunk)
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
        call.complete = resp.status < 300
    except TimeoutError:
        failure = "the upstream stream stalled (no data within the read timeout)"
    except aiohttp.ClientError as exc:
        failure = f"the upstream stream was interrupted ({type(exc).__name__})"
    finally:
        if call.complete:
            resp.release()
        else:
            resp.close()  # drop the connection: the provider stops generating
        scanner.close()
        call.usage = scanner.usage or call.usage
        call.streamed_events = scanner.events
        if kept is not None:
            call.record.response_content = b"".join(kept).decode("utf-8", "replace")
        elif framed and call.ctx.trace_content:
            call.record.response_content = scanner.trace_text()
    tail = b""
    if translation is not None and failure is None:
        tail = translation.flush()
    for response_filter in filters:
        tail = (
            response_filter.feed(tail) + response_filter.flush()
            if tail
            else response_filter.flush()
        )
    if failure is not None:
        call.record.error = failure
        if not sse:
            if tail:
                await send({"type": "http.response.body", "body": tail, "more_body": True})
            return  # the response is left unfinished: the server drops the connection
        if translation is not None:
            tail += translation.stream_error(failure)
        else:
            tail += provider.stream_error_event(call.endpoint, failure)
    await send({"type": "http.response.body", "body": tail, "more_body": False})


async def wait_disconnect(receive: Receive) -> None:
    """Return when the client has gone (after its whole body was read)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
