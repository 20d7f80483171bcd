"""Redaction end to end: SDK or HTTP client → a real gateway (loopback) → the fake provider.

For each dialect: no sensitive value reaches the provider, the caller gets the values back
(JSON and streams, placeholders split across events included), the same request twice goes
upstream byte-identically, a scan timeout blocks or allows per policy, and traces hold no
original value.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx
import openai
import pytest

from devtools.testing import RunningGateway, require_test_database, running_gateway
from policies.redaction.services import redaction_policy_set
from policies.tests.corpus.values import EvalGen, Gen

pytestmark = [pytest.mark.e2e]


@dataclass
class Persona:
    organization: Any
    workspace: Any
    key: Any
    plaintext_key: str


@pytest.fixture(scope="module")
def rservers(django_db_setup: Any, django_db_blocker: Any) -> Iterator[RunningGateway]:
    require_test_database()
    with (
        django_db_blocker.unblock(),
        running_gateway(gates=["policies.redaction.gate.RedactionGate"]) as gw,
    ):
        yield gw


@pytest.fixture(scope="module")
def world(rservers: RunningGateway, django_db_blocker: Any) -> Iterator[Persona]:
    """One organization for the module, committed (the gateway thread reads it) and deleted at
    the end with everything it created, audit entries included (no per-test flush). Its key has
    a custom role, so nothing here depends on the built-in roles, which a transactional test
    that ran earlier may have flushed."""
    from orgs import services
    from orgs.models import ApiKey, AuditLogEntry

    with django_db_blocker.unblock():
        audit_mark = AuditLogEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        org = services.organization_upsert(
            slug=f"redact-{uuid.uuid4().hex[:8]}", plan="enterprise", llm_gateway_enabled=True
        )
        try:
            ws = services.workspace_upsert(organization=org, slug="main")
            role = services.role_upsert(
                organization=org, name="agent", permissions=["gateway:invoke", "workspaces:read"]
            )
            created = services.api_key_create(
                organization=org, workspace=ws, role=role, name="agent key"
            )
            ws.trace_content = True
            ws.save(update_fields=["trace_content"])
            rservers.give_secrets(ws)
            yield Persona(org, ws, created.api_key, created.plaintext)
        finally:
            ApiKey.objects.filter(organization=org).delete()  # keys PROTECT their role
            org.delete()
            AuditLogEntry.objects.filter(pk__gt=audit_mark).delete()


@pytest.fixture
def owner(world: Persona, django_db_blocker: Any) -> Iterator[Persona]:
    with django_db_blocker.unblock():
        redaction_policy_set(
            organization=world.organization,
            scope="organization",
            timeout_ms=2000,
            on_timeout="block",
        )
        yield world


@pytest.fixture
def gw(rservers: RunningGateway, owner: Persona) -> RunningGateway:
    rservers.reset()
    return rservers


def _values() -> dict[str, str]:
    gen = Gen(secrets.randbelow(10**9))
    return {
        "email": gen.email(),
        "github": gen.github_token(),
        "aws": gen.aws_key(),
        "card": gen.credit_card(),
        "anthropic": gen.anthropic_key(),
        "password": gen.password(),
    }


def _prompt(values: dict[str, str]) -> str:
    return (
        f"Deploy failed for {values['email']}. Token {values['github']} and key {values['aws']}; "
        f"card {values['card']}; export ANTHROPIC_API_KEY={values['anthropic']} and "
        f'DB_PASSWORD="{values["password"]}" please check'
    )


def _assert_clean(blob: str, values: dict[str, str]) -> None:
    for name, value in values.items():
        assert value not in blob, f"{name} leaked"


def _upstream_bodies(gw: RunningGateway) -> list[bytes]:
    return [
        r["body"].encode() if isinstance(r["body"], str) else r["body"]
        for r in gw.upstream_requests()
    ]


def test_openai_chat_json_is_redacted_upstream_and_restored_for_the_caller(gw, owner):
    values = _values()
    prompt = _prompt(values)
    client = openai.OpenAI(
        base_url=f"{gw.url}/openai/v1", api_key=owner.plaintext_key, max_retries=0
    )
    answer = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "system", "content": f"Operator contact {values['email']}"},
            {"role": "user", "content": prompt},
        ],
    )
    assert answer.choices[0].message.content == f"Echo: {prompt}"
    (upstream,) = gw.upstream_requests()
    _assert_clean(json.dumps(upstream), values)
    assert "[REDACTED:GITHUB_TOKEN_" in upstream["body"] and "[REDACTED:EMAIL_" in upstream["body"]
    (rec,) = gw.records(1)
    _assert_clean(json.dumps(rec.to_dict(), default=str), values)
    assert rec.redaction_counts["EMAIL"] == 2 and rec.redaction_counts["GITHUB_TOKEN"] == 1
    assert rec.policy_results["matched"][0]["type"] == "redaction"


def test_openai_chat_stream_restores_placeholders_split_across_events(gw, owner):
    values = _values()
    prompt = _prompt(values)
    client = openai.OpenAI(
        base_url=f"{gw.url}/openai/v1", api_key=owner.plaintext_key, max_retries=0
    )
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": prompt}],
            stream=True,
        )
    )
    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == f"Echo: {prompt}"
    )
    _assert_clean(json.dumps(gw.upstream_requests()), values)
    (rec,) = gw.records(1)
    _assert_clean(json.dumps(rec.to_dict(), default=str), values)


def test_tool_call_arguments_are_redacted_and_restored_as_valid_json(gw, owner):
    values = _values()
    values["key"] = Gen(7).private_key()  # newlines: must be JSON-escaped when put back
    prompt = f"read {values['github']} and\n{values['key']}"
    client = openai.OpenAI(
        base_url=f"{gw.url}/openai/v1", api_key=owner.plaintext_key, max_retries=0
    )
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    answer = client.chat.completions.create(
        model="gpt-4o-mini",
        tools=tools,
        messages=[
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {
                            "name": "lookup",
                            "arguments": json.dumps({"token": values["aws"]}),
                        },
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": f"user {values['email']}"},
            {"role": "user", "content": prompt},
        ],
    )
    arguments = json.loads(answer.choices[0].message.tool_calls[0].function.arguments)
    assert arguments == {"echo": prompt}
    _assert_clean(json.dumps(gw.upstream_requests()), values)


def test_responses_stream_is_restored(gw, owner):
    values = _values()
    prompt = _prompt(values)
    client = openai.OpenAI(
        base_url=f"{gw.url}/openai/v1", api_key=owner.plaintext_key, max_retries=0
    )
    events = list(
        client.responses.create(
            model="gpt-5", input=prompt, instructions=values["email"], stream=True
        )
    )
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == f"Echo: {prompt}"
    _assert_clean(json.dumps(gw.upstream_requests()), values)


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_messages_are_redacted_and_restored(gw, owner, stream):
    values = _values()
    prompt = _prompt(values)
    client = anthropic.Anthropic(
        base_url=f"{gw.url}/anthropic", api_key=owner.plaintext_key, max_retries=0
    )
    kwargs: dict[str, Any] = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 256,
        "system": [{"type": "text", "text": values["email"]}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": prompt}]}],
    }
    if stream:
        with client.messages.stream(**kwargs) as s:
            text = "".join(s.text_stream)
    else:
        text = client.messages.create(**kwargs).content[0].text
    assert text == f"Echo: {prompt}"
    _assert_clean(json.dumps(gw.upstream_requests()), values)
    (rec,) = gw.records(1)
    _assert_clean(json.dumps(rec.to_dict(), default=str), values)


def _people_values() -> dict[str, str]:
    gen = EvalGen(secrets.randbelow(10**9))
    return {
        "person": "Maria Gonzalez",
        "street": "1234 Hodges Mountain Suite 5",
        "place": "Springfield, IL 62704",
        "german_street": "Hauptstraße 17",
        "german_place": "10115 Berlin",
        "nino": "AB 12 34 56 C",
        "phone": gen.phone_uk_de(),
        "ssn": gen.us_ssn_plain(),
    }


def _people_prompt(values: dict[str, str]) -> str:
    return (
        f"Customer {values['person']} moved to {values['street']}, {values['place']}; the "
        f"invoice goes to {values['german_street']}, {values['german_place']}. NI number "
        f"{values['nino']}, tel. {values['phone']}, ssn: {values['ssn']}."
    )


@pytest.mark.parametrize("stream", [False, True])
def test_names_addresses_and_ids_are_redacted_and_restored(gw, owner, stream):
    values = _people_values()
    prompt = _people_prompt(values)
    client = anthropic.Anthropic(
        base_url=f"{gw.url}/anthropic", api_key=owner.plaintext_key, max_retries=0
    )
    kwargs: dict[str, Any] = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": [{"type": "text", "text": prompt}]}],
    }
    if stream:
        with client.messages.stream(**kwargs) as s:
            text = "".join(s.text_stream)
    else:
        text = client.messages.create(**kwargs).content[0].text
    assert text == f"Echo: {prompt}"
    (upstream,) = gw.upstream_requests()
    _assert_clean(json.dumps(upstream), values)
    for type_ in ("PERSON", "ADDRESS", "LOCATION", "UK_NINO", "PHONE", "US_SSN"):
        assert f"[REDACTED:{type_}_" in upstream["body"], type_
    (rec,) = gw.records(1)
    _assert_clean(json.dumps(rec.to_dict(), default=str), values)
    assert rec.redaction_counts["ADDRESS"] == 2 and rec.redaction_counts["LOCATION"] == 2


@pytest.mark.parametrize("stream", [False, True, "array"])
def test_gemini_generate_content_is_redacted_and_restored(gw, owner, stream):
    values = _values()
    prompt = _prompt(values)
    method = {
        False: "generateContent",
        True: "streamGenerateContent?alt=sse",
        "array": "streamGenerateContent",
    }[stream]
    body = {
        "systemInstruction": {"parts": [{"text": values["email"]}]},
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": prompt},
                    {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
                ],
            }
        ],
    }
    resp = httpx.post(
        f"{gw.url}/gemini/v1beta/models/gemini-2.5-flash:{method}",
        json=body,
        headers={"x-goog-api-key": owner.plaintext_key},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    if stream == "array":
        events = resp.json()
    elif stream:
        events = [
            json.loads(line[5:]) for line in resp.text.splitlines() if line.startswith("data:")
        ]
    if stream:
        text = "".join(
            p.get("text", "")
            for e in events
            for c in e.get("candidates", [])
            for p in c["content"]["parts"]
        )
    else:
        text = resp.json()["candidates"][0]["content"]["parts"][0]["text"]
    assert text == f"Echo: {prompt}"
    upstream = gw.upstream_requests()
    _assert_clean(json.dumps(upstream), values)
    assert "iVBORw0KGgo=" in upstream[0]["body"]


def test_the_same_request_twice_is_forwarded_byte_identically(gw, owner):
    values = _values()
    client = openai.OpenAI(
        base_url=f"{gw.url}/openai/v1", api_key=owner.plaintext_key, max_retries=0
    )
    messages = [{"role": "user", "content": _prompt(values)}]
    client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    first, second = _upstream_bodies(gw)
    assert first == second and b"[REDACTED:" in first


def _slow_body(values: dict[str, str]) -> dict[str, Any]:
    gen = Gen(secrets.randbelow(10**9))  # fresh text: nothing cached
    filler = [
        {
            "role": "user",
            "content": f"{gen.secret()} {values['email']} " + gen.s("abc def 123 ", 6000),
        }
        for _ in range(200)
    ]
    return {"model": "gpt-4o-mini", "messages": filler}


@pytest.mark.parametrize("action", ["block", "allow"])
def test_a_scan_timeout_blocks_or_allows_per_policy(gw, owner, action):
    redaction_policy_set(
        organization=owner.organization, scope="organization", timeout_ms=50, on_timeout=action
    )
    values = _values()
    resp = httpx.post(
        f"{gw.url}/openai/v1/chat/completions",
        json=_slow_body(values),
        headers={"authorization": f"Bearer {owner.plaintext_key}"},
        timeout=30,
    )
    if action == "block":
        assert resp.status_code == 503
        message = resp.json()["error"]["message"]
        assert message.startswith("request blocked by gateway policies: ")
        assert "did not finish within 50 ms" in message
        assert gw.upstream_requests() == []
        (rec,) = gw.records(1)
        assert rec.status == "blocked" and rec.policy_results["violated"][0]["type"] == "redaction"
    else:
        assert resp.status_code == 200
        assert values["email"] in gw.upstream_requests()[0]["body"]


def test_a_provider_error_passes_untouched(gw, owner):
    values = _values()
    resp = httpx.post(
        f"{gw.url}/anthropic/v1/messages",
        json={
            "model": "claude-sonnet-4-5",
            "max_tokens": 10,
            "messages": [{"role": "user", "content": values["email"]}],
        },
        headers={"x-api-key": owner.plaintext_key, "x-fake-status": "429"},
        timeout=10,
    )
    assert resp.status_code == 429
    assert resp.json()["type"] == "error" and values["email"] not in resp.text


@pytest.mark.django_db  # also makes pytest-django create the test database for this module
def test_the_redaction_gate_runs_after_the_spend_gate_by_default():
    from django.conf import settings

    gates = settings.GATEWAY_PROXY_GATES
    assert "policies.redaction.gate.RedactionGate" in gates
    assert gates.index("policies.spend.gate.SpendGate") < gates.index(
        "policies.redaction.gate.RedactionGate"
    )


@pytest.mark.parametrize("stream", [False, True])
def test_bedrock_is_redacted_upstream_and_restored_through_the_event_stream(
    gw, owner, stream, django_db_blocker
):
    """Claude on Bedrock (Anthropic Messages in InvokeModel) and Converse: the provider sees
    placeholders; the caller gets its values back, in the binary event stream too."""
    from botocore import UNSIGNED
    from botocore.config import Config
    from botocore.session import get_session

    from devtools.testing import give_bedrock_secrets

    with django_db_blocker.unblock():
        give_bedrock_secrets(owner.workspace, gw.fake_url)
    values = _values()
    prompt = _prompt(values)
    claude = anthropic.AnthropicBedrock(
        api_key=owner.plaintext_key,
        aws_region="us-east-1",
        base_url=f"{gw.url}/bedrock",
        max_retries=0,
    )
    kwargs: dict[str, Any] = {
        "model": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": prompt}],
    }
    if stream:
        with claude.messages.stream(**kwargs) as s:
            text = "".join(s.text_stream)
    else:
        text = claude.messages.create(**kwargs).content[0].text
    assert text == f"Echo: {prompt}"
    runtime = get_session().create_client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=f"{gw.url}/bedrock",
        config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}),
    )

    def bearer(request: Any, **_: Any) -> None:
        request.headers["Authorization"] = f"Bearer {owner.plaintext_key}"

    runtime.meta.events.register("before-sign.bedrock-runtime.*", bearer)
    converse = {
        "modelId": "amazon.nova-lite-v1:0",
        "messages": [{"role": "user", "content": [{"text": prompt}]}],
    }
    if stream:
        events = list(runtime.converse_stream(**converse)["stream"])
        text = "".join(
            e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e
        )
    else:
        text = runtime.converse(**converse)["output"]["message"]["content"][0]["text"]
    assert text == f"Echo: {prompt}"
    _assert_clean(json.dumps(gw.upstream_requests()), values)
    assert "[REDACTED:" in gw.upstream_requests()[-1]["body"]
    for rec in gw.records(2):
        _assert_clean(json.dumps(rec.to_dict(), default=str), values)


def test_claude_on_vertex_is_redacted_and_restored(gw, owner, django_db_blocker):
    from devtools.fake_formats_cloud import FAKE_PROJECT
    from devtools.testing import give_vertex_secret

    with django_db_blocker.unblock():
        give_vertex_secret(owner.workspace, gw.fake_url)
    values = _values()
    prompt = _prompt(values)
    client = anthropic.AnthropicVertex(
        access_token=owner.plaintext_key,
        region="us-east5",
        project_id=FAKE_PROJECT,
        base_url=f"{gw.url}/vertex/v1",
        max_retries=0,
    )
    with client.messages.stream(
        model="claude-sonnet-4-5@20250929",
        max_tokens=256,
        messages=[{"role": "user", "content": prompt}],
    ) as s:
        assert "".join(s.text_stream) == f"Echo: {prompt}"
    calls = [r for r in gw.upstream_requests() if r["path"] != "/token"]
    _assert_clean(json.dumps(calls), values)
    assert "[REDACTED:" in calls[-1]["body"]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_translated_call_is_redacted_upstream_and_restored_in_the_callers_api(gw, owner, stream):
    """The unified endpoints: redaction walks the caller's API, the provider sees only
    placeholders in its own API, the caller gets its values back in its own."""
    values = _values()
    prompt = _prompt(values)
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=owner.plaintext_key, max_retries=0)
    messages = [{"role": "user", "content": prompt}]
    if stream:
        chunks = client.chat.completions.create(
            model="anthropic/claude-haiku-4-5", messages=messages, stream=True
        )
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        text = (
            client.chat.completions.create(model="gemini/gemini-2.5-flash", messages=messages)
            .choices[0]
            .message.content
        )
    assert text == f"Echo: {prompt}"
    (body,) = _upstream_bodies(gw)
    _assert_clean(body.decode(), values)
    assert ("contents" if not stream else "messages") in json.loads(body)


@pytest.mark.parametrize(
    ("caller", "model"),
    [
        ("chat", "bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
        ("messages", "bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
        ("chat", "bedrock/us.amazon.nova-pro-v1:0"),
        ("messages", "vertex/claude-sonnet-4-5@20250929"),
    ],
    ids=["chat-bedrock-claude", "messages-bedrock-claude", "chat-converse", "messages-vertex"],
)
def test_unified_streams_from_the_clouds_are_redacted_and_restored(
    gw, owner, caller, model, django_db_blocker
):
    """Bedrock's event stream decoded into the caller's server-sent events: the placeholders
    in it are restored there (the filters read the caller's stream, not the binary frames)."""
    from devtools.testing import give_bedrock_secrets, give_vertex_secret

    with django_db_blocker.unblock():
        give_bedrock_secrets(owner.workspace, gw.fake_url)
        give_vertex_secret(owner.workspace, gw.fake_url)
    values = _values()
    prompt = _prompt(values)
    messages = [{"role": "user", "content": prompt}]
    if caller == "chat":
        client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=owner.plaintext_key, max_retries=0)
        chunks = client.chat.completions.create(model=model, messages=messages, stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        claude = anthropic.Anthropic(base_url=gw.url, api_key=owner.plaintext_key, max_retries=0)
        with claude.messages.stream(model=model, max_tokens=256, messages=messages) as s:
            text = "".join(s.text_stream)
    assert text == f"Echo: {prompt}"
    calls = [r for r in gw.upstream_requests() if r["path"] != "/token"]
    _assert_clean(json.dumps(calls), values)
    assert "[REDACTED:" in calls[-1]["body"]
    (rec,) = gw.records(1)
    _assert_clean(json.dumps(rec.to_dict(), default=str), values)
