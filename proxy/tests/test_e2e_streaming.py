"""Streaming fidelity, policy gates, recording details, end to end."""

from __future__ import annotations

import json
import socket
import time

import openai
import pytest

from hotpath.errors import PolicyBlocked
from orgs.models import ApiKey

pytestmark = [pytest.mark.e2e]

CHAT = b'{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"slow"}]}'


def _open_stream(gw, key: str, extra: str = "") -> socket.socket:
    """A raw HTTP/1.1 streaming request, so the test controls reads and the disconnect."""
    sock = socket.create_connection(("127.0.0.1", int(gw.url.rsplit(":", 1)[1])), timeout=10)
    head = (
        "POST /openai/v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        f"authorization: Bearer {key}\r\ncontent-length: {len(CHAT)}\r\n{extra}\r\n"
    )
    sock.sendall(head.encode() + CHAT)
    return sock


def _read_until(sock: socket.socket, marker: bytes, limit: float = 5.0) -> bytes:
    data = b""
    deadline = time.monotonic() + limit
    while marker not in data and time.monotonic() < deadline:
        data += sock.recv(65536)
    return data


def test_the_first_event_arrives_before_an_upstream_pause_ends(gw, owner):
    started = time.monotonic()
    sock = _open_stream(gw, owner.plaintext_key, "x-fake-stream-pause-ms: 2000\r\n")
    first = _read_until(sock, b'"role":"assistant"')
    first_at = time.monotonic() - started
    rest = _read_until(sock, b"data: [DONE]")
    sock.close()
    assert b"200 OK" in first and b'"role":"assistant"' in first
    assert first_at < 1.5, first_at
    assert b"Echo: slow" not in first and b"[DONE]" in rest


def test_a_client_disconnect_closes_the_upstream_request(gw, owner):
    sock = _open_stream(gw, owner.plaintext_key, "x-fake-stream-pause-ms: 3000\r\n")
    assert b'"role":"assistant"' in _read_until(sock, b'"role":"assistant"')
    sock.close()
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline and not gw.upstream_requests()[0]["disconnected"]:
        time.sleep(0.02)
    assert gw.upstream_requests()[0]["disconnected"] is True
    (rec,) = gw.records(1)
    assert rec.status == "error" and rec.error == "client disconnected"


def test_an_upstream_dying_mid_stream_ends_the_stream_with_an_error_event(gw, owner):
    client = openai.OpenAI(
        base_url=f"{gw.url}/openai/v1", api_key=owner.plaintext_key, max_retries=0
    )
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "die"}],
        stream=True,
        extra_headers={"x-fake-die-after": "2"},
    )
    chunks = []
    with pytest.raises(openai.APIError, match="interrupted"):
        chunks.extend(stream)  # the SDK raises on the error event: no truncated "success"
    assert 1 <= len(chunks) <= 2
    (rec,) = gw.records(1)
    assert rec.status == "error" and "interrupted" in rec.error


def test_gateway_headers_route_the_trace_and_become_metadata(gw, owner):
    client = openai.OpenAI(
        base_url=f"{gw.url}/openai/v1", api_key=owner.plaintext_key, max_retries=0
    )
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "x"}],
        extra_headers={"x-gateway-project": "team-a evals", "x-gateway-session": "s-42"},
    )
    meta = json.loads(raw.headers["x-gateway-metadata"])
    (rec,) = gw.records(1)
    assert meta["trace_id"] == rec.trace_id and meta["outcome"] == "success"
    assert rec.project_name == "team-a evals" and rec.request_metadata == {"session": "s-42"}
    headers = {k.lower() for k, _ in gw.upstream_requests()[0]["headers"]}
    assert not any(h.startswith("x-gateway-") for h in headers)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "x"}],
            extra_headers={"x-gateway-project": "../etc"},
        )
    assert "x-gateway-project" in str(caught.value)


def test_content_is_traced_only_when_the_workspace_opts_in(gw, owner):
    from orgs import services

    client = openai.OpenAI(
        base_url=f"{gw.url}/openai/v1", api_key=owner.plaintext_key, max_retries=0
    )
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "secret"}]
    )
    services.workspace_upsert(
        organization=owner.organization, slug=owner.workspace.slug, trace_content=True
    )
    try:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "shown"}]
        )
    finally:
        services.workspace_upsert(
            organization=owner.organization, slug=owner.workspace.slug, trace_content=False
        )
    first, second = gw.records(2)
    assert first.request_content is None and first.response_content is None
    assert second.request_content["messages"][0]["content"] == "shown"
    assert second.response_content["choices"][0]["message"]["content"] == "Echo: shown"


class BlockingGate:
    calls: list[str] = []

    async def before(self, call):
        BlockingGate.calls.append("before")
        call.record.policy_results = {"violated": ["cap"]}
        if call.body and call.body.get("model") == "blocked-model":
            raise PolicyBlocked(
                402,
                "request blocked by gateway policies: cap",
                {"reason": "spend", "scopes": ["workspace"]},
            )
        call.body["messages"][0]["content"] = "rewritten"
        call.body_changed = True

    async def after(self, call):
        BlockingGate.calls.append(f"after:{call.http_status}:{call.cost_usd is not None}")


def test_gates_rewrite_block_and_always_run_after(gw, owner):
    BlockingGate.calls = []
    saved = gw.app.gates
    gw.app.gates = [BlockingGate()]
    try:
        client = openai.OpenAI(
            base_url=f"{gw.url}/openai/v1", api_key=owner.plaintext_key, max_retries=0
        )
        answer = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "orig"}]
        )
        assert answer.choices[0].message.content == "Echo: rewritten"
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.with_raw_response.create(
                model="blocked-model", messages=[{"role": "user", "content": "x"}]
            )
    finally:
        gw.app.gates = saved
    assert caught.value.status_code == 402
    meta = json.loads(caught.value.response.headers["x-gateway-metadata"])
    assert (
        meta["outcome"] == "blocked"
        and meta["reason"] == "spend"
        and meta["scopes"] == ["workspace"]
    )
    assert "request blocked by gateway policies: cap" in str(caught.value)
    # after() runs once the answer is sent, before the record is queued: the records first.
    _ok, blocked = gw.records(2)
    assert BlockingGate.calls == ["before", "after:200:True", "before", "after:402:False"]
    assert blocked.status == "blocked" and blocked.policy_results == {"violated": ["cap"]}
    assert len(gw.upstream_requests()) == 1


def test_last_used_at_is_written_off_the_request_path(gw, owner):
    client = openai.OpenAI(
        base_url=f"{gw.url}/openai/v1", api_key=owner.plaintext_key, max_retries=0
    )
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    gw.app.recorder._touched.clear()
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "y"}])
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and ApiKey.objects.get(pk=owner.key.pk).last_used_at is None:
        time.sleep(0.02)
    assert ApiKey.objects.get(pk=owner.key.pk).last_used_at is not None


@pytest.mark.django_db
def test_the_auth_table_decrypts_secrets_with_their_base_url():
    from orgs import services
    from proxy.auth_build import load_secret_table
    from secrets_vault.services import secret_set

    org = services.organization_upsert(slug="sec", llm_gateway_enabled=True)
    ws = services.workspace_upsert(organization=org, slug="w")
    secret_set(
        workspace=ws, name="ANTHROPIC_API_KEY", value="sk-ant-xyz", base_url="http://127.0.0.1:9/"
    )
    upstream = load_secret_table()[ws.pk]["ANTHROPIC_API_KEY"]
    assert upstream.secret == "sk-ant-xyz" and upstream.base_url == "http://127.0.0.1:9"
    assert "sk-ant-xyz" not in repr(upstream)
