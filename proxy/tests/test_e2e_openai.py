"""OpenAI routes end to end: the official SDK → a real gateway → the fake provider."""

from __future__ import annotations

import json

import openai
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _client(gw, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/openai/v1", api_key=key, max_retries=0, timeout=10)


def test_it_proxies_a_chat_completion_and_records_usage_and_cost(gw, owner):
    client = _client(gw, owner.plaintext_key)
    answer = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hello there"}]
    )
    assert answer.choices[0].message.content == "Echo: hello there"
    (rec,) = gw.records(1)
    assert rec.status == "success" and rec.http_status == 200
    assert rec.workspace_id == owner.workspace.pk and rec.key_id == owner.key.pk
    assert rec.key_prefix == owner.key.display_prefix
    assert rec.input_tokens == answer.usage.prompt_tokens
    assert rec.output_tokens == answer.usage.completion_tokens
    assert rec.cost_usd is not None and rec.cost_usd > 0 and not rec.price_missing
    (upstream,) = gw.upstream_requests()
    headers = {k.lower(): v for k, v in upstream["headers"]}
    assert headers["authorization"] == "Bearer sk-upstream-opena-0000"
    assert owner.plaintext_key not in json.dumps(upstream)
