"""The verification call of `manage.py verify_gateway`, and what each answer means.

`verification_request` builds the one small call a user would make (the quick-start curl, in
the chosen provider's dialect); `diagnose` turns the gateway's answer into plain words with the
fix, from the status, the error message in the dialect's envelope and `x-gateway-metadata`.
Both are pure. `http_call` does the HTTP (stdlib only, so the command has no extra dependency);
`run_find` looks the recorded run up by trace id in the tracing tables.

The key travels only in the request header; nothing here prints or logs it.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

PROVIDERS = ("openai", "anthropic", "gemini", "bedrock", "vertex", "azure")
AZURE_API_VERSION = "2024-10-21"
DEFAULT_MODELS = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-haiku-4-5",
    "gemini": "gemini-2.5-flash",
    "bedrock": "us.anthropic.claude-haiku-4-5-20251001-v1:0",
    "vertex": "gemini-2.5-flash",
    "azure": "gpt-4o-mini",  # a model of the workspace's AZURE_OPENAI_DEPLOYMENTS, or a deployment
}
SECRET_NAMES = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GOOGLE_API_KEY",
    "bedrock": "AWS_BEARER_TOKEN_BEDROCK (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) and "
    "AWS_REGION",
    "vertex": "VERTEX_SERVICE_ACCOUNT_JSON",
    "azure": "AZURE_OPENAI_API_KEY (its base URL the resource's endpoint)",
}
GATEWAY_401_MESSAGE = "invalid or missing gateway key"
ROLE_FIX = (
    "Give the key a role with both gateway:invoke and workspaces:read in its workspace: "
    "option A (enterprise plan) a custom workspace role with those two permissions, option B "
    "the built-in WORKSPACE_ADMIN role. For a personal token, change its owner's role in the "
    "workspace. Role changes apply within a minute; the key need not be rotated."
)


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def metadata(self) -> dict[str, Any]:
        """x-gateway-metadata as a dict ({} when absent or not JSON)."""
        try:
            value = json.loads(self.headers.get("x-gateway-metadata", ""))
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    @property
    def error_message(self) -> str:
        """error.message from any of the three dialects' envelopes ('' if none)."""
        try:
            data = json.loads(self.body)
        except ValueError:
            return ""
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict):
            return str(error.get("message", ""))
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            return data["message"]  # AWS's envelope (Bedrock)
        return ""


@dataclass(frozen=True)
class Verdict:
    """The outcome of the verification call: which check failed (or none), why, and the fix."""

    ok: bool
    check: str  # the failed step: gateway | key | flag | scope | role | secret | policy | upstream
    problem: str
    fix: str


PASSED = Verdict(ok=True, check="", problem="", fix="")


def _fail(check: str, problem: str, fix: str) -> Verdict:
    return Verdict(ok=False, check=check, problem=problem, fix=fix)


def verification_request(
    *,
    provider: str,
    base_url: str,
    key: str,
    model: str,
    project: str = "",
    location: str = "global",
) -> Request:
    """The smallest real call in `provider`'s own dialect, authenticated the way its SDK does
    (`project` and `location`: Vertex AI's, which its paths name)."""
    prompt = "Reply with the single word: ok"
    if provider == "bedrock":  # InvokeModel with the Anthropic Messages shape
        body = {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 16,
            "messages": [{"role": "user", "content": prompt}],
        }
        return Request(
            "POST",
            f"{base_url}/bedrock/model/{quote(model, safe='')}/invoke",
            {"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            json.dumps(body).encode(),
        )
    if provider == "vertex":  # Gemini on Vertex AI
        if not project:
            raise ValueError("Vertex AI needs the Google Cloud project (--vertex-project)")
        body = {"contents": [{"role": "user", "parts": [{"text": prompt}]}]}
        return Request(
            "POST",
            f"{base_url}/vertex/v1/projects/{quote(project, safe='')}/locations/"
            f"{quote(location, safe='')}/publishers/google/models/{model}:generateContent",
            {"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            json.dumps(body).encode(),
        )
    if provider == "azure":  # what openai.AzureOpenAI sends: the key in api-key
        body = {"messages": [{"role": "user", "content": prompt}], "max_tokens": 16}
        return Request(
            "POST",
            f"{base_url}/azure/openai/deployments/{quote(model, safe='')}/chat/completions"
            f"?api-version={AZURE_API_VERSION}",
            {"api-key": key, "Content-Type": "application/json"},
            json.dumps(body).encode(),
        )
    if provider == "openai":
        body = {"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": 16}
        return Request(
            "POST",
            f"{base_url}/openai/v1/chat/completions",
            {"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            json.dumps(body).encode(),
        )
    if provider == "anthropic":
        body = {"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": prompt}]}
        return Request(
            "POST",
            f"{base_url}/anthropic/v1/messages",
            {
                "x-api-key": key,
                "anthropic-version": "2023-06-01",
                "Content-Type": "application/json",
            },
            json.dumps(body).encode(),
        )
    if provider == "gemini":
        body = {"contents": [{"role": "user", "parts": [{"text": prompt}]}]}
        return Request(
            "POST",
            f"{base_url}/gemini/v1beta/models/{model}:generateContent",
            {"x-goog-api-key": key, "Content-Type": "application/json"},
            json.dumps(body).encode(),
        )
    raise ValueError(f"unknown provider {provider!r} (choose from {', '.join(PROVIDERS)})")


def http_call(request: Request, *, timeout: float) -> Response:
    """Send `request`; HTTP error statuses are answers too (returned, not raised). Connection
    failures raise OSError (urllib.error.URLError is one)."""
    req = urllib.request.Request(
        request.url, data=request.body, headers=request.headers, method=request.method
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Response(
                resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
            )
    except urllib.error.HTTPError as err:
        with err:
            return Response(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())


def diagnose(response: Response, *, provider: str) -> Verdict:
    """Plain words and the fix for the gateway's answer to the verification call."""
    if 200 <= response.status < 300:
        return PASSED
    return _access_verdict(response, provider) or _serving_verdict(response, provider)


def _access_verdict(response: Response, provider: str) -> Verdict | None:
    """The refusals that come before the call is forwarded: URL, key, flag, scope, role, secret."""
    status, message, secret = response.status, response.error_message, SECRET_NAMES[provider]
    if not response.metadata and status in (404, 405):
        return _fail(
            "gateway",
            f"HTTP {status} without x-gateway-metadata: this URL does not look like the gateway.",
            "Pass the gateway root as --base-url (e.g. https://gateway.example.com, without "
            "/openai/v1), and check that a load balancer or proxy in between forwards the path.",
        )
    # The gateway's own 401 comes before a call exists (no trace id); an upstream 401 (the
    # provider refusing the workspace's secret) is passed through with one.
    if status == 401 and (message == GATEWAY_401_MESSAGE or "trace_id" not in response.metadata):
        return _fail(
            "key",
            "The gateway did not accept the key: it is unknown, malformed, expired or revoked "
            "(the gateway gives the same answer for each, on purpose).",
            "Check that the whole key was copied (gw_sk_… or gw_pt_…); otherwise ask a "
            "workspace admin for a new workspace-scoped service key (Admin → API keys).",
        )
    if status == 403:
        return _forbidden_verdict(message)
    if status == 424:
        return _fail(
            "secret",
            f"The workspace has no provider secret for {provider} ({message or secret + ' is missing'}).",
            f"A workspace admin adds {secret} under Settings → Integrations → Provider secrets "
            "(Admin → Provider secrets) for the key's workspace.",
        )
    return None


def _forbidden_verdict(message: str) -> Verdict:
    lowered = message.lower()
    if "not enabled" in lowered:
        return _fail(
            "flag",
            f"The LLM Gateway is not enabled for this key's organization ({message}).",
            "A superuser (the platform operator) must turn on 'LLM Gateway enabled' for the "
            "organization (Admin → Settings → Gateway → Organizations, or manage.py gateway_org "
            "ORG --enable-gateway).",
        )
    if "workspace-scoped" in lowered or "organization-scoped" in lowered:
        return _fail(
            "scope",
            "This is an organization-scoped key; the gateway accepts only workspace-scoped keys.",
            "Create a workspace-scoped service key (Admin → API keys, pick the workspace) "
            "with a role that has gateway:invoke and workspaces:read.",
        )
    return _fail(
        "role",
        f"The key's role lacks a permission the gateway needs ({message or 'HTTP 403'}).",
        ROLE_FIX,
    )


def _serving_verdict(response: Response, provider: str) -> Verdict:
    """Failures once the call is admitted: policies, the gateway itself, the upstream."""
    status, message = response.status, response.error_message
    blocked = response.metadata.get("outcome") == "blocked"
    if status == 402:
        return _fail(
            "policy",
            f"A spend limit blocked the call ({message}).",
            "An organization admin raises the cap or waits for the window to reset "
            "(Settings → Gateway → LLM Gateway → Spend limits).",
        )
    if status == 503 and "spend limits cannot be checked" in message:
        return _fail(
            "policy",
            f"The gateway cannot check spend limits right now ({message}).",
            "Restore the gateway's connection to Redis (REDIS_URL), where the live spend counters "
            "are; GATEWAY_SPEND_FAIL_OPEN=True would serve such calls unchecked meanwhile.",
        )
    if blocked:
        return _fail(
            "policy",
            f"A gateway policy blocked the call ({message or 'HTTP ' + str(status)}).",
            "Ask an organization admin to review the gateway policies (Settings → Gateway).",
        )
    if status == 501 or (status == 503 and "configuration" in message):
        return _fail(
            "gateway",
            f"The gateway cannot serve this call ({message or 'HTTP ' + str(status)}).",
            "Use the gateway root as --base-url (the client paths are /openai/v1, /anthropic "
            "and /gemini); if it is right, check that the gateway reaches its database "
            "(DATABASE_URL) and see its logs.",
        )
    return _upstream_verdict(response, provider)


def _upstream_verdict(response: Response, provider: str) -> Verdict:
    status, message, secret = response.status, response.error_message, SECRET_NAMES[provider]
    if status == 502:
        return _fail(
            "upstream",
            f"The gateway could not reach the {provider} API ({message or 'HTTP 502'}).",
            "On the gateway host, check outbound network access (firewall, egress proxy, DNS) to "
            "the provider and GATEWAY_OPENAI_BASE_URL / GATEWAY_ANTHROPIC_BASE_URL / "
            "GATEWAY_GEMINI_BASE_URL, and any base URL override on the provider secret (for "
            "Vertex AI, also that the service account key is valid and its token_uri reachable).",
        )
    if status == 504:
        return _fail(
            "upstream",
            f"The {provider} API did not answer in time ({message or 'HTTP 504'}).",
            "Retry; if it persists, check the provider's status page and the gateway host's "
            "network path to it, and GATEWAY_UPSTREAM_READ_TIMEOUT.",
        )
    return _fail(
        "upstream",
        f"The {provider} API refused the call with HTTP {status}: {message or response.body[:200]!r}.",
        f"If it is an authentication error, the workspace's {secret} is wrong or revoked: "
        "replace it under Provider secrets. If the model is unknown, pass --model.",
    )


def run_find(*, trace_id: str, timeout: float, interval: float = 0.25) -> tuple[Any, str]:
    """(the tracing Run recorded for `trace_id` or None, the last database error or "").

    Polls up to `timeout` seconds: records are shipped off the request path, so the run appears
    shortly after the response. A database error (e.g. SQLite busy while the writer commits)
    counts as "not yet". Bounded: at most timeout/interval + 1 queries."""
    from django.db import OperationalError

    from tracing.models import Run

    deadline = time.monotonic() + timeout
    error = ""
    while True:
        try:
            run = (
                Run.objects.select_related("project")
                .filter(trace_id=trace_id)
                .order_by("started_at")
                .first()
            )
        except OperationalError as exc:
            run, error = None, str(exc)
        if run is not None or time.monotonic() >= deadline:
            return run, error
        time.sleep(interval)
