"""Headers both ways, over HTTP: what the provider sends back, and the User-Agent sent upstream."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.e2e]

BODY = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})


def _post(gw, key: str, headers: dict[str, str]) -> tuple[int, list[tuple[str, str]], bytes]:
    """POST a chat completion with exactly `headers` (http.client adds no User-Agent)."""
    url = urlsplit(gw.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request(
            "POST",
            "/openai/v1/chat/completions",
            body=BODY,
            headers={"authorization": f"Bearer {key}", "content-type": "application/json"}
            | headers,
        )
        resp = conn.getresponse()
        return resp.status, resp.getheaders(), resp.read()
    finally:
        conn.close()


def test_provider_response_headers_come_back_lowercased_without_hop_by_hop_ones(gw, owner):
    status, headers, body = _post(gw, owner.plaintext_key, {"x-fake-status": "429"})
    assert status == 429 and json.loads(body)["error"]
    names = [name for name, _ in headers]
    assert all(name == name.lower() for name in names)
    received = dict(headers)
    assert received["x-request-id"] == "req_fake" and received["retry-after"] == "0"
    assert received["content-type"].startswith("application/json")
    assert int(received["content-length"]) == len(body)
    assert names.count("content-length") == 1 and names.count("content-type") == 1
    assert names.count("date") == 1 and "aiohttp" not in received.get("server", "")
    assert json.loads(received["x-gateway-metadata"])["outcome"] == "error"


def test_the_callers_user_agent_goes_upstream_and_none_is_added_when_it_sent_none(gw, owner):
    _post(gw, owner.plaintext_key, {"user-agent": "MyAgent/1.2 (linux)"})
    _post(gw, owner.plaintext_key, {})
    with_agent, without_agent = gw.upstream_requests()
    agents = [v for k, v in with_agent["headers"] if k.lower() == "user-agent"]
    assert agents == ["MyAgent/1.2 (linux)"]
    assert not [k for k, _ in without_agent["headers"] if k.lower() == "user-agent"]
    records = gw.records(2)
    assert sorted(r.user_agent for r in records) == ["", "MyAgent/1.2 (linux)"]
