"""Every error status, in each dialect's envelope, as the official SDKs see it."""

from __future__ import annotations

import datetime as dt
import json
import socket
import urllib.error
import urllib.request

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from orgs import services
from orgs.models import Role

pytestmark = [pytest.mark.e2e]


def _oai(gw, key):
    return openai.OpenAI(base_url=f"{gw.url}/openai/v1", api_key=key, max_retries=0, timeout=10)


def _chat(client, **kw):
    return client.chat.completions.create(
        model=kw.pop("model", "gpt-4o-mini"), messages=[{"role": "user", "content": "x"}], **kw
    )


def _raw(gw, path, body=b"{}", headers=None, method="POST"):
    req = urllib.request.Request(
        f"{gw.url}{path}",
        data=body if method == "POST" else None,
        headers=headers or {},
        method=method,
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def test_bad_keys_all_get_the_same_401(gw, owner):
    revoked = services.api_key_create(
        organization=owner.organization,
        workspace=owner.workspace,
        role=Role.objects.get(name="WORKSPACE_ADMIN"),
        name="old",
    )
    services.api_key_revoke(api_key=revoked.api_key)
    expiring = services.api_key_create(
        organization=owner.organization,
        workspace=owner.workspace,
        role=Role.objects.get(name="WORKSPACE_ADMIN"),
        name="soon",
        expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1),
    )
    wrong_secret = owner.plaintext_key[:-4] + "zzzz"
    unknown = "gw_sk_" + "a" * 12 + "_" + "b" * 40
    bodies = set()
    import time

    time.sleep(1.1)
    for key in (wrong_secret, unknown, "not-a-key", revoked.plaintext, expiring.plaintext):
        with pytest.raises(openai.AuthenticationError) as caught:
            _chat(_oai(gw, key))
        assert caught.value.status_code == 401
        bodies.add(json.dumps(caught.value.body, sort_keys=True))
    assert len(bodies) == 1
    assert gw.upstream_requests() == []


def test_missing_key_is_401_in_each_dialect(gw):
    status, _, body = _raw(
        gw, "/anthropic/v1/messages", headers={"content-type": "application/json"}
    )
    assert status == 401 and json.loads(body)["type"] == "error"
    status, _, body = _raw(gw, "/gemini/v1beta/models/gemini-2.5-flash:generateContent")
    assert status == 401 and json.loads(body)["error"]["status"] == "UNAUTHENTICATED"


def test_a_role_without_gateway_invoke_gets_403(gw, member):
    with pytest.raises(openai.PermissionDeniedError) as caught:
        _chat(_oai(gw, member.plaintext_key))
    assert "missing permission gateway:invoke" in str(caught.value)
    client = anthropic.Anthropic(
        base_url=f"{gw.url}/anthropic", api_key=member.plaintext_key, max_retries=0
    )
    with pytest.raises(anthropic.PermissionDeniedError):
        client.messages.create(
            model="claude-haiku-4-5", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    recs = gw.records(2)
    assert {r.http_status for r in recs} == {403} and {r.status for r in recs} == {"error"}


def test_a_disabled_organization_gets_403_and_a_flag_change_applies_at_once(gw, owner):
    services.organization_upsert(slug=owner.organization.slug, llm_gateway_enabled=False)
    try:
        with pytest.raises(openai.PermissionDeniedError) as caught:
            _chat(_oai(gw, owner.plaintext_key))
    finally:
        services.organization_upsert(slug=owner.organization.slug, llm_gateway_enabled=True)
    assert "LLM Gateway is not enabled for this organization" in str(caught.value)
    assert _chat(_oai(gw, owner.plaintext_key)).choices


def test_a_role_change_applies_without_rotating_the_key(gw, owner, member):
    with pytest.raises(openai.PermissionDeniedError):
        _chat(_oai(gw, member.plaintext_key))
    key = member.key
    key.role = Role.objects.get(name="WORKSPACE_ADMIN")
    key.save(update_fields=["role"])
    try:
        assert _chat(_oai(gw, member.plaintext_key)).choices
    finally:
        key.role = Role.objects.get(name="WORKSPACE_USER")
        key.save(update_fields=["role"])


def test_an_organization_scoped_key_gets_403_saying_what_to_use(gw, owner):
    created = services.api_key_create(
        organization=owner.organization,
        workspace=None,
        role=Role.objects.get(name="ORGANIZATION_ADMIN"),
        name="org key",
    )
    with pytest.raises(openai.PermissionDeniedError) as caught:
        _chat(_oai(gw, created.plaintext))
    assert "workspace-scoped" in str(caught.value) or "scoped to one workspace" in str(caught.value)


def test_a_missing_provider_secret_is_424_naming_it(gw, owner):
    bare = services.workspace_upsert(organization=owner.organization, slug="bare")
    created = services.api_key_create(
        organization=owner.organization,
        workspace=bare,
        role=Role.objects.get(name="WORKSPACE_ADMIN"),
        name="bare key",
    )
    with pytest.raises(openai.APIStatusError) as caught:
        _chat(_oai(gw, created.plaintext))
    assert caught.value.status_code == 424 and "OPENAI_API_KEY" in str(caught.value)
    client = genai.Client(
        api_key=created.plaintext, http_options=types.HttpOptions(base_url=f"{gw.url}/gemini")
    )
    with pytest.raises(genai_errors.APIError) as gcaught:
        client.models.generate_content(model="gemini-2.5-flash", contents="x")
    assert gcaught.value.code == 424 and "GOOGLE_API_KEY" in str(gcaught.value)


def test_upstream_errors_pass_through_untouched(gw, owner):
    with pytest.raises(openai.RateLimitError) as caught:
        _chat(_oai(gw, owner.plaintext_key), extra_headers={"x-fake-status": "429"})
    assert caught.value.body["message"] == "fake provider error 429"
    client = anthropic.Anthropic(
        base_url=f"{gw.url}/anthropic", api_key=owner.plaintext_key, max_retries=0
    )
    with pytest.raises(anthropic.InternalServerError) as acaught:
        client.messages.create(
            model="error-529", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    assert acaught.value.status_code == 529
    assert acaught.value.body["error"]["type"] == "overloaded_error"
    with pytest.raises(openai.BadRequestError):
        _chat(_oai(gw, owner.plaintext_key), model="error-400")
    recs = gw.records(3)
    assert {r.http_status for r in recs} == {429, 529, 400} and {r.status for r in recs} == {
        "error"
    }


def test_not_json_is_400_and_too_large_is_413(gw, owner):
    auth = {"authorization": f"Bearer {owner.plaintext_key}", "content-type": "application/json"}
    status, headers, body = _raw(gw, "/openai/v1/chat/completions", body=b"{nope", headers=auth)
    assert status == 400 and "not valid JSON" in json.loads(body)["error"]["message"]
    assert json.loads(headers["x-gateway-metadata"])["outcome"] == "error"
    status, _, body = _raw(gw, "/openai/v1/chat/completions", body=b"[1]", headers=auth)
    assert status == 400
    limit = gw.app.max_body
    gw.app.max_body = 100
    try:
        status, _, body = _raw(
            gw, "/openai/v1/chat/completions", body=b'{"a":"' + b"x" * 200 + b'"}', headers=auth
        )
    finally:
        gw.app.max_body = limit
    assert status == 413 and json.loads(body)["error"]["code"] == "request_too_large"
    assert gw.upstream_requests() == []


def test_a_path_off_the_allow_list_is_501_in_its_dialect(gw, owner):
    status, _, body = _raw(
        gw, "/openai/v1/files", headers={"authorization": f"Bearer {owner.plaintext_key}"}
    )
    assert status == 501 and json.loads(body)["error"]["message"] == "path not allow-listed"
    status, _, body = _raw(gw, "/anthropic/v1/complete")
    assert status == 501 and json.loads(body)["type"] == "error"
    status, _, body = _raw(gw, "/gemini/v1beta/models/x:predict")
    assert status == 501 and json.loads(body)["error"]["status"] == "UNIMPLEMENTED"
    status, _, _ = _raw(gw, "/openai/v1/chat/completions", method="GET")
    assert status == 501


def test_an_unreachable_upstream_is_502_and_a_slow_one_504(gw, owner):
    from secrets_vault.services import secret_set

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    dead_port = sock.getsockname()[1]
    sock.close()
    secret_set(
        workspace=owner.workspace,
        name="OPENAI_API_KEY",
        value=None,
        base_url=f"http://127.0.0.1:{dead_port}",
    )
    with pytest.raises(openai.APIStatusError) as caught:
        _chat(_oai(gw, owner.plaintext_key))
    assert caught.value.status_code == 502
    secret_set(workspace=owner.workspace, name="OPENAI_API_KEY", value=None, base_url=gw.fake_url)
    import aiohttp

    saved = gw.app.upstream.timeout
    gw.app.upstream.timeout = aiohttp.ClientTimeout(total=None, sock_connect=1, sock_read=0.2)
    try:
        with pytest.raises(openai.APIStatusError) as caught:
            _chat(_oai(gw, owner.plaintext_key), extra_headers={"x-fake-delay-ms": "1000"})
    finally:
        gw.app.upstream.timeout = saved
    assert caught.value.status_code == 504
    recs = gw.records(2)
    assert [r.http_status for r in recs] == [502, 504]


def test_health_needs_no_key(gw):
    status, _, body = _raw(gw, "/health", method="GET")
    assert status == 200 and json.loads(body) == {"status": "ok"}


@pytest.mark.django_db
def test_the_auth_table_leaves_out_revoked_keys_and_resolves_personal_tokens():
    from orgs.models import ApiKey, Organization
    from proxy.auth_build import load_key_table

    org = services.organization_upsert(slug="tbl", llm_gateway_enabled=True)
    ws = services.workspace_upsert(organization=org, slug="w")
    user = services.user_get_or_create(email="pat@tbl.test")
    services.member_set(workspace=ws, user=user, role=Role.objects.get(name="WORKSPACE_ADMIN"))
    pat = services.api_key_create(
        organization=org, workspace=ws, kind=ApiKey.Kind.PERSONAL, user=user
    )
    gone = services.api_key_create(
        organization=org, workspace=ws, role=Role.objects.get(name="WORKSPACE_ADMIN")
    )
    services.api_key_revoke(api_key=gone.api_key)
    table = load_key_table()
    entry = table.authenticate(pat.plaintext)
    assert "gateway:invoke" in entry.ctx.permissions and entry.ctx.user_id == user.pk
    assert gone.api_key.lookup_id not in table.keys
    assert Organization.objects.filter(slug="tbl").exists()
