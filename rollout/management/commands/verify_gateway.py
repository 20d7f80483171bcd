"""`manage.py verify_gateway`: make the verification call and explain the result step by step."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from orgs.cli import GatewayCommand
from rollout.agent_config import AgentConfigError, normalize_base_url, validate_key
from rollout.verify import (
    DEFAULT_MODELS,
    PROVIDERS,
    SECRET_NAMES,
    Request,
    Response,
    diagnose,
    http_call,
    run_find,
    verification_request,
)

# The checks in the order a call meets them; a failure at one leaves the later ones unchecked.
STEPS = (
    ("gateway", "gateway reachable at {base}"),
    ("key", "key accepted (known, not expired, not revoked)"),
    ("flag", "LLM Gateway enabled for the key's organization"),
    ("scope", "key is workspace-scoped"),
    ("role", "key's role has gateway:invoke and workspaces:read"),
    ("secret", "workspace has the {secret} provider secret"),
    ("policy", "gateway policies let the call through"),
    ("upstream", "{provider} answered the call through the gateway"),
    ("trace", "run recorded in the workspace's 'gateway' tracing project"),
)


class Command(GatewayCommand):
    help = (
        "Run the verification call against a gateway and report each step (reachable, flag, key, "
        "role, provider secret, upstream, trace) in plain words with the fix. Exit code 0 only "
        "when every step passed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--base-url", required=True, help="gateway root, e.g. https://gw.example.com"
        )
        parser.add_argument("--key", required=True, help="the gateway key to verify")
        parser.add_argument("--provider", choices=PROVIDERS, default="openai")
        parser.add_argument("--model", help="model for the call (default per provider)")
        parser.add_argument(
            "--vertex-project", default="", help="Google Cloud project (with --provider vertex)"
        )
        parser.add_argument(
            "--vertex-location", default="global", help="Vertex AI location (default global)"
        )
        parser.add_argument("--timeout", type=float, default=30.0, help="HTTP timeout, seconds")
        parser.add_argument(
            "--trace-timeout",
            type=float,
            default=10.0,
            help="how long to wait for the run to appear in tracing, seconds",
        )
        parser.add_argument(
            "--skip-trace",
            action="store_true",
            help="do not look the run up (when this host has no access to the gateway's database)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            base = normalize_base_url(options["base_url"])
            key = validate_key(options["key"])
        except AgentConfigError as exc:
            raise CommandError(str(exc)) from exc
        provider = options["provider"]
        if provider == "vertex" and not options["vertex_project"]:
            raise CommandError(
                "--provider vertex needs --vertex-project (the Google Cloud project)"
            )
        words = {"base": base, "secret": SECRET_NAMES[provider], "provider": provider}
        self.stdout.write(
            f"Verifying {base} with {provider} (model {options['model'] or DEFAULT_MODELS[provider]})"
        )
        self.summary = ""
        failed = self._run_checks(base=base, key=key, provider=provider, options=options)
        failed_at, problem, fix = failed if failed else ("", "", "")
        reached = True
        for step, label in STEPS:
            text = label.format(**words)
            if step == failed_at:
                self.stdout.write(self.style.ERROR(f"  FAIL  {text}"))
                self.stdout.write(f"        Problem: {problem}")
                self.stdout.write(f"        Fix: {fix}")
                reached = False
            elif not reached:
                self.stdout.write(f"  --    {text} (not checked)")
            elif step == "trace" and options["skip_trace"]:
                self.stdout.write(f"  --    {text} (skipped)")
            else:
                self.stdout.write(self.style.SUCCESS(f"  ok    {text}"))
        if failed:
            raise CommandError(f"verification failed at step '{failed_at}'", returncode=1)
        if self.summary:
            self.stdout.write(self.summary)
        self.stdout.write(self.style.SUCCESS("All checks passed."))

    def _run_checks(
        self, *, base: str, key: str, provider: str, options: dict[str, Any]
    ) -> tuple[str, str, str] | None:
        """None when every step passed, else (step, problem, fix)."""
        timeout = options["timeout"]
        try:
            health = http_call(Request("GET", f"{base}/health", {}, None), timeout=timeout)
        except OSError as exc:
            return (
                "gateway",
                f"Cannot connect to {base} ({getattr(exc, 'reason', exc)}).",
                "Check --base-url (scheme, host, port) and that the gateway is running and "
                "reachable from here.",
            )
        if health.status != 200:
            return (
                "gateway",
                f"GET {base}/health answered HTTP {health.status}, not 200.",
                "Check --base-url; if it is right, the gateway cannot serve: see its logs.",
            )
        model = options["model"] or DEFAULT_MODELS[provider]
        request = verification_request(
            provider=provider,
            base_url=base,
            key=key,
            model=model,
            project=options["vertex_project"],
            location=options["vertex_location"],
        )
        try:
            response = http_call(request, timeout=timeout)
        except OSError as exc:
            return (
                "upstream",
                f"The call did not complete ({getattr(exc, 'reason', exc)}).",
                "Retry with a larger --timeout; check the gateway's logs.",
            )
        verdict = diagnose(response, provider=provider)
        if not verdict.ok:
            return (verdict.check, verdict.problem, verdict.fix)
        if options["skip_trace"]:
            return None
        return self._check_trace(response, timeout=options["trace_timeout"])

    def _check_trace(self, response: Response, *, timeout: float) -> tuple[str, str, str] | None:
        trace_id = response.metadata.get("trace_id")
        if not trace_id:
            return (
                "trace",
                "The response has no trace id in x-gateway-metadata.",
                "Check that a load balancer in between does not strip the x-gateway-metadata header.",
            )
        run, db_error = run_find(trace_id=str(trace_id), timeout=timeout)
        if run is None:
            return (
                "trace",
                f"No run with trace id {trace_id} appeared within {timeout:g} s"
                + (f" (last database error: {db_error})." if db_error else "."),
                "Check that the Celery worker is running and can reach Redis and the database "
                "(records are shipped off the request path), that this command uses the gateway's "
                "DATABASE_URL, and GATEWAY_RECORD_SINK; or pass --skip-trace on a host without "
                "database access.",
            )
        if run.project.name != "gateway":
            return (
                "trace",
                f"The run was recorded in project {run.project.name!r}, not 'gateway'.",
                "Do not send x-gateway-project with the verification call.",
            )
        self.summary = (
            f"Run {run.run_id} in {run.project.name} (workspace id {run.workspace_id}): "
            f"status {run.status}, {run.input_tokens} input / {run.output_tokens} output tokens, "
            f"cost {'unknown' if run.cost_usd is None else f'${run.cost_usd:.6f}'}"
        )
        return None
