"""Routes with fallbacks on the unified endpoints, end to end: a chain whose first candidate
answers 500, never a fallback after the first byte, aliases, and every attempt in the trace."""

from __future__ import annotations

import json
import uuid

import anthropic
import openai
import pytest

from proxy.tests.test_e2e_unified import _claude, _openai

pytestmark = [pytest.mark.e2e]


def _route(owner, chain: str, **options) -> str:
    from model_routes import services

    name = "r-" + uuid.uuid4().hex[:8]
    services.route_set(
        workspace=owner.workspace,
        name=name,
        chain=[{"model": m} for m in chain.split(",")],
        **options,
    )
    return name


@pytest.mark.django_db
def test_the_cli_sets_shows_and_deletes_a_route_with_an_audit_entry():
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from model_routes.models import ModelRoute
    from orgs import services
    from orgs.models import AuditLogEntry

    org = services.organization_upsert(slug="routes-cli")
    services.workspace_upsert(organization=org, slug="main")
    out = _call(
        call_command,
        "gateway_route",
        "routes-cli/main",
        "fast",
        "--chain",
        "openai/gpt-4o-mini,anthropic/claude-haiku-4-5",
        "--on",
        "429,5xx",
        "--alias",
        "claude-haiku-*",
        "--params",
        '2={"temperature": 0}',
    )
    assert "route/fast = openai/gpt-4o-mini → anthropic/claude-haiku-4-5 on=429,5xx" in out
    route = ModelRoute.objects.get(name="fast")
    assert route.chain[1] == {"model": "anthropic/claude-haiku-4-5", "params": {"temperature": 0}}
    assert route.aliases == ["claude-haiku-*"]
    assert AuditLogEntry.objects.filter(action="model_route.set").count() == 1
    with pytest.raises(CommandError, match="PROVIDER/MODEL"):
        call_command("gateway_route", "routes-cli/main", "bad", "--chain", "gpt-4o-mini")
    with pytest.raises(CommandError, match="unknown fallback condition"):
        call_command(
            "gateway_route", "routes-cli/main", "bad", "--chain", "openai/x", "--on", "4xx"
        )
    _call(call_command, "gateway_route", "routes-cli/main", "fast", "--delete")
    assert not ModelRoute.objects.exists()
    assert AuditLogEntry.objects.filter(action="model_route.delete").count() == 1


def _call(command, *args) -> str:
    from io import StringIO

    out = StringIO()
    command(*args, stdout=out)
    return out.getvalue()


def test_a_chain_whose_first_candidate_answers_500_falls_back_and_traces_each_attempt(gw, owner):
    name = _route(owner, "anthropic/error-500,gemini/gemini-2.5-flash,openai/gpt-4o-mini")
    response = _openai(gw, owner.plaintext_key).chat.completions.with_raw_response.create(
        model=f"route/{name}", messages=[{"role": "user", "content": "hello"}]
    )
    answer = response.parse()
    assert answer.choices[0].message.content == "Echo: hello" and answer.model == f"route/{name}"
    meta = json.loads(response.headers["x-gateway-metadata"])
    assert meta["route"] == name and meta["model"] == "gemini-2.5-flash"
    assert [a["model"] for a in meta["attempts"]] == ["anthropic/error-500"]
    assert meta["attempts"][0]["status"] == 500
    paths = [r["path"] for r in gw.upstream_requests()]
    assert paths == ["/v1/messages", "/v1beta/models/gemini-2.5-flash:generateContent"]
    failed, served = sorted(gw.records(2), key=lambda r: r.status)  # "error" < "success"
    assert failed.trace_id == served.trace_id and failed.run_id != served.run_id
    assert (failed.model, failed.http_status, failed.status) == ("error-500", 500, "error")
    assert "fake provider error 500" in failed.error and failed.cost_usd == 0.0
    assert (served.provider, served.model, served.status) == (
        "gemini",
        "gemini-2.5-flash",
        "success",
    )
    assert served.cost_usd > 0 and served.request_metadata["route"] == name
    assert served.request_metadata["attempt"] == "2"


def test_a_streamed_call_falls_back_before_its_first_byte(gw, owner):
    name = _route(owner, "openai/error-503,anthropic/claude-haiku-4-5")
    with _claude(gw, owner.plaintext_key).messages.stream(
        model=f"route/{name}", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        assert "".join(stream.text_stream) == "Echo: hi"
    records = gw.records(2)
    assert sorted(r.http_status for r in records) == [200, 503]


def test_never_a_fallback_after_the_first_byte(gw, owner):
    name = _route(owner, "anthropic/claude-haiku-4-5,openai/gpt-4o-mini")
    with pytest.raises(openai.APIError):
        for _ in _openai(gw, owner.plaintext_key).chat.completions.create(
            model=f"route/{name}",
            messages=[{"role": "user", "content": "a long answer please"}],
            stream=True,
            extra_headers={"x-fake-die-after": "3"},
        ):
            pass
    assert [r["path"] for r in gw.upstream_requests()] == ["/v1/messages"]
    (rec,) = gw.records(1)
    assert rec.status == "error" and rec.model == "claude-haiku-4-5"


def test_the_conditions_are_per_route(gw, owner):
    name = _route(owner, "anthropic/error-500,openai/gpt-4o-mini", fallback_on=["429"])
    with pytest.raises(openai.InternalServerError):
        _openai(gw, owner.plaintext_key).chat.completions.create(
            model=f"route/{name}", messages=[{"role": "user", "content": "x"}]
        )
    assert len(gw.upstream_requests()) == 1
    rate = _route(owner, "anthropic/error-429,openai/gpt-4o-mini", fallback_on=["429"])
    answer = _openai(gw, owner.plaintext_key).chat.completions.create(
        model=f"route/{rate}", messages=[{"role": "user", "content": "y"}]
    )
    assert answer.choices[0].message.content == "Echo: y"


def test_an_alias_lets_a_coding_agent_keep_its_model_name(gw, owner):
    name = _route(owner, "openai/gpt-4o-mini", aliases=[f"claude-haiku-{uuid.uuid4().hex[:6]}*"])
    from model_routes.models import ModelRoute

    alias = ModelRoute.objects.get(name=name).aliases[0].rstrip("*") + "-4-5"
    answer = _claude(gw, owner.plaintext_key).messages.create(
        model=alias, max_tokens=20, messages=[{"role": "user", "content": "aliased"}]
    )
    assert answer.content[0].text == "Echo: aliased" and answer.model == alias
    assert json.loads(gw.upstream_requests()[0]["body"])["model"] == "gpt-4o-mini"
    listed = [m.id for m in _openai(gw, owner.plaintext_key).models.list()]
    assert f"route/{name}" in listed


def test_a_route_of_another_workspace_is_unknown_here(gw, owner):
    from model_routes import services
    from orgs import services as org_services

    other = org_services.workspace_upsert(organization=owner.organization, slug="other")
    services.route_set(workspace=other, name="theirs", chain=["openai/gpt-4o-mini"])
    with pytest.raises(anthropic.BadRequestError) as caught:
        _claude(gw, owner.plaintext_key).messages.create(
            model="route/theirs", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    assert "no route named 'theirs'" in caught.value.message
    assert gw.upstream_requests() == []


def test_when_every_candidate_fails_the_last_answer_lists_the_attempts(gw, owner):
    name = _route(owner, "anthropic/error-500,gemini/gemini-2.5-flash")
    with pytest.raises(anthropic.RateLimitError) as caught:
        _claude(gw, owner.plaintext_key).messages.create(
            model=f"route/{name}",
            max_tokens=5,
            messages=[{"role": "user", "content": "x"}],
            extra_headers={"x-fake-status": "429"},
        )
    meta = json.loads(caught.value.response.headers["x-gateway-metadata"])
    assert [a["status"] for a in meta["attempts"]] == [429]
    assert meta["model"] == "gemini-2.5-flash"
    assert sorted(r.http_status for r in gw.records(2)) == [429, 429]
