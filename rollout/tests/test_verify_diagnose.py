"""diagnose() on the proxy's own rendered errors (proxy.errors.render), in every dialect, and
verify_gateway against an address where nothing listens."""

from __future__ import annotations

import io
import socket

import pytest
from django.core.management import CommandError, call_command

from policies.spend.gate import SpendUnavailable
from proxy import errors
from rollout.verify import Response, diagnose, verification_request

KEY = "gw_sk_abcdefghijkl_" + "a1" * 20


def rendered(error: errors.ProxyError, dialect: str) -> Response:
    status, headers, body = errors.render(error, dialect, {"trace_id": "t1"})
    return Response(status, {k.decode(): v.decode() for k, v in headers}, body)


DIALECT_OF = {"openai": "openai", "anthropic": "anthropic", "gemini": "gemini"}


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
@pytest.mark.parametrize(
    ("error", "check", "words"),
    [
        (errors.AuthFailed(), "key", "did not accept the key"),
        (
            errors.Forbidden("LLM Gateway is not enabled for this organization"),
            "flag",
            "superuser",
        ),
        (
            errors.Forbidden(
                "organization-scoped keys cannot call the gateway: use a workspace-scoped key"
            ),
            "scope",
            "workspace-scoped service key",
        ),
        (errors.Forbidden("missing permission gateway:invoke"), "role", "WORKSPACE_ADMIN"),
        (
            errors.ProviderSecretMissing("missing provider secret OPENAI_API_KEY"),
            "secret",
            "Provider secrets",
        ),
        (errors.UpstreamUnreachable("upstream unreachable"), "upstream", "outbound network"),
        (errors.UpstreamTimeout("upstream timed out"), "upstream", "did not answer in time"),
        (
            errors.PolicyBlocked(402, "request blocked by gateway policies: cap"),
            "policy",
            "spend limit",
        ),
        (errors.PathNotAllowed(), "gateway", "gateway root"),
        (
            SpendUnavailable(
                "spend limits cannot be checked right now (the counter store is unreachable)",
                metadata={"reason": "spend_store_unavailable"},
            ),
            "policy",
            "REDIS_URL",
        ),
        (
            errors.ProxyError("the gateway cannot read its configuration yet", status=503),
            "gateway",
            "DATABASE_URL",
        ),
        (
            errors.PolicyBlocked(503, "request blocked by gateway policies: pii (scan timed out)"),
            "policy",
            "review the gateway policies",
        ),
    ],
)
def test_it_explains_each_gateway_refusal(provider, error, check, words):
    verdict = diagnose(rendered(error, DIALECT_OF[provider]), provider=provider)
    assert not verdict.ok
    assert verdict.check == check
    assert words in verdict.problem + " " + verdict.fix


def test_a_200_passes():
    assert diagnose(Response(200, {}, b"{}"), provider="openai").ok


def test_a_404_without_gateway_metadata_is_not_the_gateway():
    verdict = diagnose(Response(404, {}, b"Not Found"), provider="openai")
    assert verdict.check == "gateway"
    assert "--base-url" in verdict.fix


def test_an_upstream_error_passed_through_names_the_secret():
    body = b'{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}'
    response = Response(401, {"x-gateway-metadata": '{"outcome":"error","trace_id":"abc"}'}, body)
    verdict = diagnose(response, provider="openai")
    assert verdict.check == "upstream"
    assert "OPENAI_API_KEY" in verdict.fix


def test_the_key_goes_only_in_the_header_each_sdk_uses():
    for provider, header in (
        ("openai", "Authorization"),
        ("anthropic", "x-api-key"),
        ("gemini", "x-goog-api-key"),
    ):
        request = verification_request(provider=provider, base_url="http://gw", key=KEY, model="m")
        assert KEY in request.headers[header]
        assert KEY not in request.url
        assert KEY.encode() not in (request.body or b"")


def test_it_explains_an_unreachable_gateway():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = io.StringIO()
    with pytest.raises(CommandError) as info:
        call_command(
            "verify_gateway",
            "--base-url",
            f"http://127.0.0.1:{port}",
            "--key",
            KEY,
            "--timeout",
            "2",
            stdout=out,
        )
    assert info.value.returncode == 1
    text = out.getvalue()
    assert "FAIL  gateway reachable" in text
    assert "Cannot connect" in text
    assert "(not checked)" in text
    assert KEY not in text


def test_it_refuses_a_malformed_key_before_calling():
    with pytest.raises(CommandError, match="not a gateway key"):
        call_command("verify_gateway", "--base-url", "http://127.0.0.1:9", "--key", "nope")
