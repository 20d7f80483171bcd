"""The unified endpoints' part of the proxy's request flow (a mixin of proxy.app.ProxyApp).

A unified call goes through the same keys, gates, usage, cost and tracing as a native one;
what differs is here: the model resolved to a plan (proxy.unified: one provider call, or a
route's chain), the request written for the provider being called, and the chain walked —
a candidate that fails before answering (per its route: connection error, timeout, 429,
5xx) is recorded as an attempt, a run of the same trace, and the next one is called. Once
the provider's response headers are accepted, its answer goes to the client: never a
fallback after the first byte.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from hotpath.errors import (
    BadRequest,
    CustomProviderMissing,
    PolicyBlocked,
    ProviderSecretMissing,
    ProxyError,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from proxy import forward, providers, routing, unified
from proxy.errors import metadata_header
from proxy.http_client import Response, UpstreamClient
from proxy.ids import new_run_id
from proxy.providers import bedrock, vertex
from proxy.request import upstream_headers

if TYPE_CHECKING:
    from hotpath.gates import ProxyCall
    from hotpath.snapshot import Snapshot
    from model_routes.snapshot import RouteTable
    from pricing.table import PriceTable
    from proxy.auth import SecretTable, UpstreamSecret
    from proxy.record import Recorder
    from proxy.upstream import Upstream

logger = logging.getLogger(__name__)
Send = Any
ERROR_DETAIL_BYTES = 64 * 1024  # what is read of a failed candidate's answer, for its message


class UnifiedCalls:
    routes: Snapshot[RouteTable]
    prices: Snapshot[PriceTable]
    secrets: Snapshot[SecretTable]
    upstream: Upstream
    recorder: Recorder
    base_urls: dict[str, str]
    trace_limit: int

    async def _resolve_unified(self, call: ProxyCall, route: routing.Route) -> str:
        """The plan of a unified call (its model, or its route's chain); the request written
        for the first candidate now, so what it cannot express is a 400 before any gate."""
        assert call.body is not None
        model = call.body.get("model")
        routes = None
        if isinstance(model, str) and (model.startswith("route/") or "/" not in model):
            table = self.routes.current()
            if table is None:
                table = await self.routes.get()
            routes = table.get(call.ctx.workspace_id)
        betas = call.headers.get("anthropic-beta", "")
        plan = unified.resolve(route.api, call.body, call.stream, routes, betas)
        call.target = plan
        first = plan.current
        self._aim(call, first)
        if first.translation is not None:
            first.translation.body(self._candidate_body(call, first))
        if plan.route:
            call.metadata["route"] = plan.route
            call.record.request_metadata = {**call.record.request_metadata, "route": plan.route}
        return first.provider

    def _aim(self, call: ProxyCall, target: unified.Target) -> None:
        call.model = call.record.model = target.model
        call.record.provider = target.secret or target.provider
        if self.prices.value is not None:
            call.price = self.prices.value.get(providers.price_name(target.provider, target.model))

    @staticmethod
    def _candidate_body(call: ProxyCall, target: unified.Target) -> dict[str, Any]:
        assert call.body is not None
        return {**call.body, **target.params} if target.params else call.body

    async def _unified_request(
        self,
        call: ProxyCall,
        scope: dict[str, Any],
        secret: Any,
        workspace_secrets: dict[str, UpstreamSecret],
    ) -> tuple[routing.Route, str, list[tuple[str, str]], bytes]:
        """(provider route, URL, headers, body) of the current candidate's upstream request.
        `secret`: the provider's credentials (providers.credentials)."""
        target: unified.Target = call.target.current
        provider = providers.get(target.provider)
        caller_body = self._candidate_body(call, target)
        # The provider's own name of the model (an Azure deployment), when it has one.
        upstream_model = getattr(secret, "upstream_model", None)
        model = upstream_model(target.model) if upstream_model is not None else target.model
        if target.translation is not None:
            if call.body_changed:  # a gate rewrote the body (it may have kept the same dict)
                target.translation.written = None
            if target.translation.model != model:  # written for the model, sent to its deployment
                target.translation.model = model
                target.translation.written = None
            body = target.translation.body(caller_body)
            # The caller's headers go on, but for those of its own API (another provider's
            # version and beta flags, its SDK's): the provider gets its own.
            # (A custom provider has no secret or its own headers: extra, sent as they are.)
            headers = [
                (name, value)
                for name, value in upstream_headers(scope["headers"])
                if not name.startswith(unified.CALLER_API_HEADERS)  # (names are lowercase)
            ]
            headers += [("content-type", "application/json"), *target.translation.headers()]
            if target.provider not in unified.CLOUDS:
                auth = provider.auth_header(secret.secret) if secret.secret else None
                headers += [*([auth] if auth else []), *secret.headers]
        else:
            upstream_body = {**caller_body, "model": model}
            provider.prepare_body(target.route.endpoint, upstream_body, stream=call.stream)
            body = orjson.dumps(upstream_body)
            auth = provider.auth_header(secret.secret) if secret.secret else None
            headers = upstream_headers(scope["headers"], auth, secret.headers)
        path = target.route.upstream_path
        locate = getattr(provider, "unified_prefix", None)
        if locate is not None:  # under the workspace's project and location (Vertex AI)
            path = locate(secret, workspace_secrets) + path
        base = secret.base_url or self.base_urls.get(target.provider)
        if not base:  # a provider whose origin depends on the region or location
            base = provider.default_base_url(secret, path)
        url = base + path
        if target.provider in unified.CLOUDS:  # signed (SigV4) or with a minted access token
            headers = await provider.authorize(secret, "POST", url, headers, body)
        return target.route, url, headers, body

    async def _forward_unified(
        self,
        call: ProxyCall,
        scope: dict[str, Any],
        client: UpstreamClient,
        send: Send,
        secret: UpstreamSecret,
    ) -> None:
        plan: unified.Plan = call.target
        table = self.secrets.current()
        if table is None:  # (an empty table is a loaded one)
            table = await self.secrets.get()
        workspace_secrets = table.get(call.ctx.workspace_id, {})
        while True:
            target = plan.current
            started = time.time()
            if plan.index:
                self._aim(call, target)
                try:
                    for gate in self.gates:  # type: ignore[attr-defined]
                        retarget = getattr(gate, "retarget", None)
                        if retarget is not None:
                            await retarget(call)
                except PolicyBlocked as refused:
                    if plan.index < len(plan.targets) - 1:
                        self._attempt(call, plan, started, refused.status, refused.message)
                        continue
                    raise
                try:
                    if target.secret:
                        found = self._custom_upstream(  # type: ignore[attr-defined]
                            call, target.secret, {call.ctx.workspace_id: workspace_secrets}
                        )
                    else:
                        found = providers.credentials(target.provider, workspace_secrets)
                except (ProviderSecretMissing, CustomProviderMissing, BadRequest) as error:
                    if plan.index < len(plan.targets) - 1:
                        self._attempt(call, plan, started, error.status, error.message)
                        continue
                    raise
                secret = found
            try:
                route, url, headers, body = await self._unified_request(
                    call, scope, secret, workspace_secrets
                )
            except (BadRequest, ProviderSecretMissing) as exc:
                # a later candidate cannot express the request, or its provider's secrets
                # lack what it needs (Vertex AI's project)
                if plan.index < len(plan.targets) - 1:
                    self._attempt(call, plan, started, exc.status, exc.message)
                    continue
                raise
            except UpstreamUnreachable as exc:  # no access token could be minted (Vertex AI)
                if not plan.falls_back(failure="connect"):
                    raise
                self._attempt(call, plan, started, exc.status, exc.message)
                continue
            if call.ctx.trace_content:
                call.record.request_content = forward.bounded_content(body, self.trace_limit)
            try:
                resp = await self._open(call, route, client, "POST", url, headers, body)  # type: ignore[attr-defined]
            except (UpstreamUnreachable, UpstreamTimeout) as exc:
                failure = "timeout" if isinstance(exc, UpstreamTimeout) else "connect"
                if not plan.falls_back(failure=failure):
                    raise
                call.sent_body = None
                self._attempt(call, plan, started, exc.status, exc.message)
                continue
            if plan.falls_back(status=resp.status):
                detail = await _error_detail(resp)
                call.sent_body = None  # refused: nothing billed
                self._attempt(
                    call, plan, started, resp.status, f"upstream answered {resp.status}: {detail}"
                )
                continue
            if plan.attempts:
                call.record.request_metadata = {
                    **call.record.request_metadata,
                    "attempt": str(plan.index + 1),
                }
            await self._relay(call, route, resp, send)  # type: ignore[attr-defined]
            return

    def _attempt(
        self, call: ProxyCall, plan: unified.Plan, started: float, status: int, error: str
    ) -> None:
        """Record a candidate that failed before answering (a run of the call's trace), then
        move the plan to the next one."""
        target = plan.current
        ended = time.time()
        plan.attempts.append(
            {
                "model": f"{target.secret or target.provider}/{target.model}",
                "status": status,
                "latency_ms": round((ended - started) * 1000, 1),
            }
        )
        record = dataclasses.replace(
            call.record,
            run_id=new_run_id(),
            started_at=started,
            ended_at=ended,
            provider=target.secret or target.provider,
            model=target.model,
            status="error",
            http_status=status,
            error=f"fell back to the next candidate of route/{plan.route}: {error}"[:2000],
            cost_usd=0.0,
            request_metadata={
                **call.record.request_metadata,
                "attempt": str(plan.index + 1),
            },
            policy_results={},
            request_content=None,
            response_content=None,
        )
        self.recorder.submit(record)
        call.metadata["attempts"] = plan.attempts  # in x-gateway-metadata, errors included
        plan.index += 1

    async def _list_models(self, call: ProxyCall, send: Send) -> None:
        """GET /v1/models: every provider the workspace has a secret for, asked at once, its
        models listed as PROVIDER/MODEL (a provider that fails is left out, and logged), and
        the workspace's routes as route/NAME."""
        table = self.secrets.current()
        if table is None:
            table = await self.secrets.get()
        secrets = table.get(call.ctx.workspace_id, {})
        route_table = self.routes.current()
        if route_table is None:
            route_table = await self.routes.get()
        routes = route_table.get(call.ctx.workspace_id)
        session = self.upstream.session
        if session is None:
            raise ProxyError("the gateway is not serving yet", status=503)

        async def listing(name: str) -> list[str]:
            provider = providers.get("openai" if name.startswith("custom/") else name)
            if name.startswith("custom/"):  # a custom provider: its model list, or its /models
                secret = secrets[name]
                if secret.models:
                    return [f"{name}/{m}" for m in sorted(secret.models)]
                path, extra, parse = unified.MODEL_LISTS["openai"]
                path = path.removeprefix("/v1")
            else:
                secret = secrets.get(provider.SECRET_NAME)
                if secret is None:
                    return []
                path, extra, parse = unified.MODEL_LISTS[name]
            url = (secret.base_url or self.base_urls[name]) + path
            headers = [*extra, *secret.headers]
            if secret.secret:
                headers.append(provider.auth_header(secret.secret))
            found = await self._model_list(name, url, headers)
            return [] if found is None else [f"{name}/{m}" for m in parse(found)]

        custom = sorted(name for name in secrets if name.startswith("custom/"))
        lists = await asyncio.gather(
            *(listing(name) for name in [*unified.MODEL_LISTS, *custom]),
            self._bedrock_models(secrets),
            self._vertex_models(secrets),
        )
        models = [model for found in lists for model in found]
        allowed = call.model_allowed  # the model-access policies, when any applies
        if allowed is not None:
            models = [m for m in models if allowed(*m.split("/", 1))]
        if routes is not None:
            models += [f"route/{name}" for name in routes.routes]
        shape = "anthropic-version" in call.headers
        body = orjson.dumps(unified.models_body(models, anthropic_shape=shape))
        call.http_status = call.record.http_status = 200
        call.record.first_token_at = time.time()
        call.complete = True
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-gateway-metadata", metadata_header(forward.gateway_metadata(call, "success"))),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _model_list(self, name: str, url: str, headers: list[tuple[str, str]]) -> Any:
        """A provider's model listing (its JSON answer); None, logged, when it fails."""
        session = self.upstream.session
        if session is None:
            return None
        try:
            async with session.get(url, headers=headers, timeout=self.upstream.timeout) as resp:
                if resp.status >= 400:
                    logger.warning("listing %s models: the provider answered %s", name, resp.status)
                    return None
                return orjson.loads(await resp.read())
        except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as exc:
            logger.warning("listing %s models failed (%s)", name, type(exc).__name__)
            return None

    async def _bedrock_models(self, secrets: dict[str, UpstreamSecret]) -> list[str]:
        """Bedrock's catalogue, from its control plane (authenticated as the calls are): the
        text models served on demand and the cross-region inference profiles."""
        try:
            creds = bedrock.credentials(secrets)
        except ProviderSecretMissing:
            return []
        base = bedrock.control_base_url(creds)
        asked = []
        for path in bedrock.MODEL_LISTS:
            url = base + path
            headers = await bedrock.authorize(creds, "GET", url, [], b"")
            asked.append(self._model_list("bedrock", url, headers))
        answers = await asyncio.gather(*asked)
        models = [m for answer in answers for m in bedrock.listed_models(answer)]
        return [f"bedrock/{m}" for m in dict.fromkeys(models)]

    async def _vertex_models(self, secrets: dict[str, UpstreamSecret]) -> list[str]:
        """Vertex AI's Model Garden catalogue (publishers.models.list) at the workspace's
        location, with an access token minted as for the calls: the Gemini and Claude models
        the unified endpoints call. A publisher whose listing fails is left out (logged)."""
        try:
            creds = vertex.credentials(secrets)
        except ProviderSecretMissing:
            return []
        try:
            vertex.unified_prefix(creds, secrets)  # (the calls need the key file's project)
        except ProviderSecretMissing:
            logger.warning("listing vertex models: the service account key names no project")
            return []
        base = creds.base_url or vertex.origin(vertex.location(secrets))

        async def publisher_models(publisher: str) -> list[str]:
            found: list[str] = []
            token = ""
            for _ in range(vertex.MODEL_LIST_MAX_PAGES):
                url = base + vertex.model_list_path(publisher, token)
                try:
                    headers = await vertex.authorize(creds, "GET", url, [], b"")
                except UpstreamUnreachable:
                    logger.warning("listing vertex models failed (no access token)")
                    return []
                answer = await self._model_list("vertex", url, headers)
                if answer is None:
                    return []
                models, token = vertex.listed_models(publisher, answer)
                found += models
                if not token:
                    break
            return found

        lists = await asyncio.gather(*map(publisher_models, vertex.MODEL_LIST_PUBLISHERS))
        return [f"vertex/{m}" for m in dict.fromkeys(m for found in lists for m in found)]


async def _error_detail(resp: Response) -> str:
    """The message of a failed candidate's answer (bounded), its connection released."""
    from proxy.translate.common import error_message

    try:
        data = await resp.content.read(ERROR_DETAIL_BYTES)
    except (aiohttp.ClientError, TimeoutError):
        data = b""
    finally:
        resp.close()
    return error_message(data)[:500]
