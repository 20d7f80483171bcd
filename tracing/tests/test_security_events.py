"""Calls refused before a workspace is known (no key, an unknown or revoked key, an
organization-scoped key, a path not allow-listed) are counted per minute, key prefix and client
address, stored as security events, shown in the admin and exported; never with key material."""

from __future__ import annotations

import io
import json
import os
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command

from conftest import make_persona
from devtools.testing import RunningGateway, running_gateway
from hotpath.refusals import RefusedCalls
from orgs import services
from orgs.models import Role
from proxy import record
from tracing.models import SecurityEvent
from tracing.services import records_ingest

FOREIGN_SECRET = "sk-proj-THIS-IS-A-PROVIDER-SECRET-0123456789abcdef"


def _call(gw: RunningGateway, path: str, headers: dict[str, str] | None = None) -> int:
    req = urllib.request.Request(
        f"{gw.url}{path}", data=b'{"model":"gpt-4o-mini","messages":[]}', headers=headers or {}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _refusals(gw: RunningGateway, total: int) -> list[RefusedCalls]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        got = record.memory_refusals()
        if sum(r.count for r in got) >= total:
            return got
        time.sleep(0.02)
    return record.memory_refusals()


@pytest.fixture(scope="module")
def refusing_gw(django_db_setup: Any, django_db_blocker: Any) -> Iterator[RunningGateway]:
    with django_db_blocker.unblock(), running_gateway() as gw:
        yield gw


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_each_kind_of_refusal_is_counted_without_key_material(refusing_gw, owner):
    gw = refusing_gw
    refusing_gw.give_secrets(owner.workspace)
    gw.reset()
    org_key = services.api_key_create(
        organization=owner.organization,
        workspace=None,
        role=Role.objects.get(name="ORGANIZATION_ADMIN"),
        name="org key",
    )
    revoked = services.api_key_create(
        organization=owner.organization,
        workspace=owner.workspace,
        role=Role.objects.get(name="WORKSPACE_ADMIN"),
        name="old",
    )
    services.api_key_revoke(api_key=revoked.api_key)
    chat = "/openai/v1/chat/completions"
    for _ in range(3):
        assert _call(gw, chat, {"authorization": f"Bearer {revoked.plaintext}"}) == 401
    assert _call(gw, chat, {"authorization": f"Bearer {FOREIGN_SECRET}"}) == 401
    assert _call(gw, chat) == 401
    assert _call(gw, chat, {"x-api-key": org_key.plaintext}) == 403
    assert _call(gw, "/openai/v1/files", {"authorization": f"Bearer {owner.plaintext_key}"}) == 501
    assert _call(gw, chat, {"authorization": f"Bearer {owner.plaintext_key}"}) == 200

    refused = _refusals(gw, 7)  # counts from one or more flushes of the recorder
    got = {(r.reason, r.key_prefix): r for r in refused}
    counts: dict[tuple[str, str], int] = {}
    for r in refused:
        counts[(r.reason, r.key_prefix)] = counts.get((r.reason, r.key_prefix), 0) + r.count
    assert counts == {
        ("invalid_key", revoked.api_key.display_prefix): 3,
        ("invalid_key", ""): 1,  # not a gateway key: nothing of it is kept
        ("missing_key", ""): 1,
        ("organization_key", org_key.api_key.display_prefix): 1,
        ("path_not_allowed", owner.key.display_prefix): 1,
    }
    assert {r.client_address for r in got.values()} == {"127.0.0.1"}
    assert got[("organization_key", org_key.api_key.display_prefix)].organization_id == (
        owner.organization.pk
    )
    assert got[("path_not_allowed", owner.key.display_prefix)].path == "/openai/v1/files"
    assert all(r.minute % 60 == 0 and abs(r.minute - time.time()) < 120 for r in got.values())
    dumped = repr(refused)
    for secret in (FOREIGN_SECRET, revoked.plaintext, org_key.plaintext, owner.plaintext_key):
        assert secret not in dumped
    assert len(gw.records(1)) == 1  # that call had a workspace: a run, not a security event

    records_ingest(refused)
    stored = {(e.reason, e.key_prefix): e.count for e in SecurityEvent.objects.all()}
    assert stored == counts


@pytest.mark.e2e
@pytest.mark.redis
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_through_redis_the_drain_stores_them(refusing_gw, settings, tmp_path):
    import redis

    from tracing.tasks import drain_runs

    settings.REDIS_URL = os.environ["REDIS_URL"]
    settings.GATEWAY_RECORD_STREAM = f"test:runs:{uuid.uuid4().hex}"
    settings.GATEWAY_SPOOL_DIR = str(tmp_path)
    with running_gateway(GATEWAY_RECORD_SINK="tracing.shipping.ship_records") as gw:
        try:
            for _ in range(4):
                assert _call(gw, "/openai/v1/chat/completions") == 401
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                drain_runs()
                if sum(SecurityEvent.objects.values_list("count", flat=True)) >= 4:
                    break
                time.sleep(0.05)
        finally:
            redis.Redis.from_url(settings.REDIS_URL).delete(settings.GATEWAY_RECORD_STREAM)
    event = SecurityEvent.objects.get()
    assert (event.reason, event.count, event.key_prefix) == ("missing_key", 4, "")


@pytest.mark.django_db
def test_counts_from_several_batches_add_up_per_minute_prefix_and_address():
    minute = int(time.time()) // 60 * 60
    one = {"reason": "invalid_key", "key_prefix": "gw_sk_abcdefabcdef"}
    records_ingest(
        [
            RefusedCalls(minute=minute, client_address="10.0.0.1", count=2, **one),
            RefusedCalls(minute=minute, client_address="10.0.0.1", count=1, **one),
            RefusedCalls(minute=minute, client_address="10.0.0.2", count=5, **one),
        ]
    )
    records_ingest([RefusedCalls(minute=minute, client_address="10.0.0.1", count=4, **one)])
    records_ingest([RefusedCalls(minute=minute + 60, client_address="10.0.0.1", **one)])
    counts = sorted(SecurityEvent.objects.values_list("client_address", "count"))
    assert counts == [("10.0.0.1", 1), ("10.0.0.1", 7), ("10.0.0.2", 5)]


@pytest.fixture
def events(owner, outsider) -> dict[str, SecurityEvent]:
    minute = int(time.time()) // 60 * 60
    records_ingest(
        [
            RefusedCalls(
                minute=minute,
                reason="organization_key",
                key_prefix="gw_sk_ownorgkey001",
                organization_id=owner.organization.pk,
                count=2,
            ),
            RefusedCalls(
                minute=minute,
                reason="organization_key",
                key_prefix="gw_sk_otherorgkey1",
                organization_id=outsider.organization.pk,
            ),
            RefusedCalls(minute=minute, reason="invalid_key", client_address="203.0.113.9"),
        ]
    )
    return {e.key_prefix or e.client_address: e for e in SecurityEvent.objects.all()}


@pytest.mark.django_db
def test_the_admin_shows_organization_managers_their_own_and_superusers_all(client, owner, events):
    url = "/admin/tracing/securityevent/"
    org_admin = make_persona(
        email="olga@acme.test",
        org_slug="acme",
        ws_slug="main",
        role_name="WORKSPACE_ADMIN",
        org_role_name="ORGANIZATION_ADMIN",
    )
    client.force_login(org_admin.user)
    page = client.get(url).content.decode()
    assert "gw_sk_ownorgkey001" in page
    assert "gw_sk_otherorgkey1" not in page and "203.0.113.9" not in page
    other = events["gw_sk_otherorgkey1"]
    assert client.get(f"{url}{other.pk}/change/").status_code == 404
    assert client.get(f"{url}{events['gw_sk_ownorgkey001'].pk}/change/").status_code == 200

    client.force_login(owner.user)  # a workspace admin: no organization:manage
    assert client.get(url).status_code == 403

    from django.contrib.auth import get_user_model

    root = get_user_model().objects.create_superuser("root@ops.test", "root@ops.test", "pw")
    client.force_login(root)
    page = client.get(url).content.decode()
    assert all(name in page for name in ("gw_sk_ownorgkey001", "gw_sk_otherorgkey1", "203.0.113.9"))
    assert client.post(f"{url}add/").status_code == 403


@pytest.mark.django_db
def test_the_export_command_writes_json_lines(events, owner):
    out, err = io.StringIO(), io.StringIO()
    call_command("gateway_export_security_events", stdout=out, stderr=err)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 3 and "exported 3 security event(s)" in err.getvalue()
    assert set(lines[0]) == {
        "minute",
        "reason",
        "count",
        "key_prefix",
        "client_address",
        "path",
        "organization_id",
    }
    assert lines[0]["minute"].endswith(":00Z")
    out = io.StringIO()
    call_command("gateway_export_security_events", "--org", "acme", stdout=out, stderr=err)
    (only,) = [json.loads(line) for line in out.getvalue().splitlines()]
    assert (only["key_prefix"], only["count"]) == ("gw_sk_ownorgkey001", 2)
