"""The translation matrix of docs/translation.md, end to end: every caller API (the official
SDK of each unified endpoint) by every provider, whole and streamed, a tool call then its
result. A cell where the caller's API is the provider's own goes through untranslated."""

from __future__ import annotations

import json

import pytest

from proxy.tests.test_e2e_unified import TOOL_CHAT, TOOL_CLAUDE, _claude, _openai

pytestmark = [pytest.mark.e2e]

CALLERS = ("chat", "responses", "messages")
PROVIDERS = {
    "openai": "openai/gpt-4o-mini",
    "anthropic": "anthropic/claude-sonnet-4-5",
    "gemini": "gemini/gemini-2.5-flash",
    "azure": "azure/gpt-4o-mini",
    "bedrock": "bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "bedrock-converse": "bedrock/us.amazon.nova-pro-v1:0",
    "vertex-claude": "vertex/claude-sonnet-4-5@20250929",
    "vertex-gemini": "vertex/gemini-2.5-flash",
}
TOOL_RESPONSES = {"type": "function", **TOOL_CHAT["function"]}
UPSTREAM_PATHS = {
    "openai": {"chat": "/v1/chat/completions", "responses": "/v1/responses"},
    "anthropic": "/v1/messages",
    "gemini": "/v1beta/models/gemini-2.5-flash:",
    "azure": {"chat": "/openai/v1/chat/completions", "responses": "/openai/v1/responses"},
    "bedrock": "/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke",
    "bedrock-converse": "/model/us.amazon.nova-pro-v1:0/converse",
    "vertex-claude": "/v1/projects/fake-project/locations/global/publishers/anthropic/models/"
    "claude-sonnet-4-5@20250929:",
    "vertex-gemini": "/v1/projects/fake-project/locations/global/publishers/google/models/"
    "gemini-2.5-flash:",
}


@pytest.fixture(autouse=True)
def cloud_secrets(request, django_db_blocker):
    """The workspace's Azure OpenAI, Bedrock and Vertex AI, at the fake, for the cells that
    call their models."""
    if "gw" not in request.fixturenames:
        yield
        return
    from devtools.testing import give_azure_secrets, give_bedrock_secrets, give_vertex_secret

    gw, owner = request.getfixturevalue("gw"), request.getfixturevalue("owner")
    with django_db_blocker.unblock():
        give_azure_secrets(owner.workspace, gw.fake_url)
        give_bedrock_secrets(owner.workspace, gw.fake_url)
        give_vertex_secret(owner.workspace, gw.fake_url)
    yield


def _chat(client, model: str, stream: bool) -> tuple[str, str]:
    """(the tool call's arguments, the text answering its result)."""
    messages = [{"role": "user", "content": "matrix"}]
    kwargs = {"model": model, "tools": [TOOL_CHAT]}
    if stream:
        with client.chat.completions.stream(messages=messages, **kwargs) as s:
            message = s.get_final_completion().choices[0].message
    else:
        message = client.chat.completions.create(messages=messages, **kwargs).choices[0].message
    (call,) = message.tool_calls
    messages += [
        {"role": "assistant", "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "found"},
    ]
    if stream:
        with client.chat.completions.stream(messages=messages, **kwargs) as s:
            text = s.get_final_completion().choices[0].message.content
    else:
        text = (
            client.chat.completions.create(messages=messages, **kwargs).choices[0].message.content
        )
    return call.function.arguments, text


def _responses(client, model: str, stream: bool) -> tuple[str, str]:
    kwargs = {"model": model, "tools": [TOOL_RESPONSES]}

    def ask(items):
        if stream:
            with client.responses.stream(input=items, **kwargs) as s:
                return s.get_final_response()
        return client.responses.create(input=items, **kwargs)

    items = [{"role": "user", "content": "matrix"}]
    (call,) = [i for i in ask(items).output if i.type == "function_call"]
    items += [
        {
            "type": "function_call",
            "call_id": call.call_id,
            "name": call.name,
            "arguments": call.arguments,
        },
        {"type": "function_call_output", "call_id": call.call_id, "output": "found"},
    ]
    return call.arguments, ask(items).output_text


def _messages(client, model: str, stream: bool) -> tuple[str, str]:
    kwargs = {"model": model, "max_tokens": 100, "tools": [TOOL_CLAUDE]}

    def ask(messages):
        if stream:
            with client.messages.stream(messages=messages, **kwargs) as s:
                return s.get_final_message()
        return client.messages.create(messages=messages, **kwargs)

    messages = [{"role": "user", "content": "matrix"}]
    (use,) = ask(messages).content
    messages += [
        {"role": "assistant", "content": [use.model_dump()]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "found"}],
        },
    ]
    return json.dumps(use.input), ask(messages).content[0].text


ASK = {"chat": _chat, "responses": _responses, "messages": _messages}


@pytest.mark.django_db
def test_the_matrix_covers_every_caller_api_and_provider():
    from proxy import translate, unified

    assert set(translate.CALLER_APIS) == set(CALLERS)
    assert set(unified.PROVIDERS.values()) == {m.partition("/")[0] for m in PROVIDERS.values()}
    # each API a provider is called in has a column (Bedrock: InvokeModel and Converse;
    # Vertex AI: Claude's and Gemini's)
    assert {"bedrock-converse", "vertex-claude", "vertex-gemini"} <= set(PROVIDERS)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("provider", list(PROVIDERS))
@pytest.mark.parametrize("caller", CALLERS)
def test_cell(gw, owner, caller, provider, stream):
    client = (_claude if caller == "messages" else _openai)(gw, owner.plaintext_key)
    arguments, text = ASK[caller](client, PROVIDERS[provider], stream)
    assert json.loads(arguments) == {"echo": "matrix"}
    assert text == "Echo: matrix"
    upstream = [r for r in gw.upstream_requests() if r["path"] != "/token"]
    assert len(upstream) == 2
    expected = UPSTREAM_PATHS[provider]
    expected = (
        expected[caller if caller != "messages" else "chat"]
        if isinstance(expected, dict)
        else expected
    )
    assert all(r["path"].startswith(expected) for r in upstream)
    records = gw.records(2)
    called = PROVIDERS[provider].partition("/")[0]
    assert all(r.provider == called and r.stream == stream for r in records)
    assert all(r.status == "success" and r.cost_usd > 0 and r.output_tokens > 0 for r in records)
