"""Claude Code, Codex and Gemini CLI request shapes, replayed through a real gateway to the fake provider.

For each recorded request: the provider receives the client's body byte for byte and every
client header with its value (apart from the gateway key, replaced by the workspace's provider
secret, and hop-by-hop headers), on the provider's own path and query (`?beta=true` kept); and
the client receives the provider's answer unchanged (the same bytes the provider gives the same
request sent to it directly).
"""

from __future__ import annotations

import base64
import json

import pytest

from tests.conformance import replay

UPSTREAM_AUTH = {"anthropic": "x-api-key", "openai": "authorization", "gemini": "x-goog-api-key"}


def _client_headers(fixture: dict, key: str) -> dict[str, str]:
    return {k: v.replace("{{KEY}}", key) for k, v in fixture["request"]["headers"].items()}


@pytest.mark.e2e
@pytest.mark.parametrize("name", replay.names())
def test_the_provider_receives_what_the_client_sent(traced_servers, world, name):
    gateway, key = traced_servers, world.keys["admin"]
    fixture = replay.load(name)
    gateway.fake.requests.clear()
    headers = _client_headers(fixture, key)
    body = replay.body_bytes(fixture)
    request = fixture["request"]

    answer = replay.send(gateway.url, request["method"], request["path"], headers, body)
    assert answer.status == 200, answer.body[:500]

    (received,) = gateway.upstream_requests()
    path, _, query = fixture["upstream_path"].partition("?")
    assert received["path"] == path
    assert received["query"] == query
    assert base64.b64decode(received["body_b64"]) == body
    upstream = {k.lower(): v for k, v in received["headers"]}
    for header, value in headers.items():
        if header not in replay.NOT_FORWARDED:
            assert upstream.get(header) == value, header
    auth = UPSTREAM_AUTH[fixture["dialect"]]
    assert key not in upstream[auth]
    assert "sk-upstream-" in upstream[auth]
    extra = set(upstream) - set(headers) - replay.CONNECTION_HEADERS - {auth}
    assert not extra, f"headers the client did not send: {sorted(extra)}"
    assert key not in json.dumps(received)


@pytest.mark.e2e
@pytest.mark.parametrize("name", replay.names())
def test_the_client_receives_the_provider_answer_unchanged(traced_servers, world, name):
    gateway = traced_servers
    fixture = replay.load(name)
    headers = _client_headers(fixture, world.keys["admin"])
    body = replay.body_bytes(fixture)
    request = fixture["request"]

    through_gateway = replay.send(gateway.url, request["method"], request["path"], headers, body)
    direct_headers = {
        k: v
        for k, v in headers.items()
        if k not in ("x-api-key", "authorization", "x-goog-api-key")
    }
    direct_headers[UPSTREAM_AUTH[fixture["dialect"]]] = "sk-upstream-direct"
    direct = replay.send(
        gateway.fake_url, request["method"], fixture["upstream_path"], direct_headers, body
    )

    assert through_gateway.status == direct.status == 200
    assert replay.without_timestamps(through_gateway.body) == replay.without_timestamps(direct.body)
    assert through_gateway.headers["content-type"] == direct.headers["content-type"]
    metadata = json.loads(through_gateway.headers["x-gateway-metadata"])
    assert metadata["outcome"] == "success"
    expected_model = (
        fixture["request"]["body"].get("model")
        or fixture["upstream_path"].split("/")[3].split(":")[0]
    )
    assert metadata["model"] == expected_model


def test_the_fixtures_carry_the_shapes_the_clients_depend_on():
    """Guards the fixtures themselves: each names the features this suite claims to cover."""
    fixtures = {name: replay.load(name) for name in replay.names()}
    claude = [f for n, f in fixtures.items() if n.startswith("claude_code")]
    assert any(n.startswith("gemini_cli") for n in fixtures)
    codex = [f for n, f in fixtures.items() if n.startswith("codex")]
    betas = ",".join(f["request"]["headers"]["anthropic-beta"] for f in claude)
    for beta in (
        "claude-code-20250219",
        "interleaved-thinking-2025-05-14",
        "fine-grained-tool-streaming-2025-05-14",
        "token-counting-2024-11-01",
    ):
        assert beta in betas
    assert all(f["request"]["path"].endswith("?beta=true") for f in claude)
    assert any("count_tokens" in f["request"]["path"] for f in claude)
    text = json.dumps(claude)
    for shape in ('"cache_control"', '"metadata"', '"user_id"', '"tool_result"', '"thinking"'):
        assert shape in text
    assert all(isinstance(f["request"]["body"].get("system", []), list) for f in claude)
    bodies = [f["request"]["body"] for f in codex]
    assert all(b["stream"] is True and b["tools"] for b in bodies)
    assert {b["store"] for b in bodies} == {True, False}
    assert any("previous_response_id" in b for b in bodies)
    assert all(b["include"] == ["reasoning.encrypted_content"] and "reasoning" in b for b in bodies)


@pytest.mark.django_db
def test_a_replayed_key_exists_in_the_database_only_as_a_digest(owner):
    """The keys these fixtures carry are checked by HMAC: no column holds the plaintext."""
    from orgs.models import ApiKey

    row = ApiKey.objects.filter(pk=owner.key.pk).values().get()
    assert owner.plaintext_key not in json.dumps(row, default=str)
    assert row["lookup_id"] in owner.plaintext_key
