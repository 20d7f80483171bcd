from __future__ import annotations

import datetime as dt

from django.utils import timezone

from api.tests.conftest import key_client, session_client
from orgs.models import ApiKey
from orgs.services import api_key_create, api_key_revoke

URL = "/api/v1/workspaces/"


def test_it_accepts_x_api_key_and_bearer(owner):
    for header in ("x-api-key", "bearer"):
        response = key_client(owner.plaintext_key, header=header).get(URL)
        assert response.status_code == 200, response.content
        assert [w["slug"] for w in response.json()] == ["main"]


def test_it_answers_401_without_credentials(client, db):
    response = client.get(URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["detail"]


def test_unknown_malformed_expired_revoked_get_identical_401(owner):
    expired = api_key_create(
        organization=owner.organization,
        workspace=owner.workspace,
        role=owner.key.role,
        name="exp",
        expires_at=timezone.now() + dt.timedelta(seconds=1),
    )
    ApiKey.objects.filter(pk=expired.api_key.pk).update(
        expires_at=timezone.now() - dt.timedelta(days=1)
    )
    revoked = api_key_create(
        organization=owner.organization, workspace=owner.workspace, role=owner.key.role, name="rev"
    )
    api_key_revoke(api_key=revoked.api_key)
    wrong_secret = owner.plaintext_key[:-4] + "zzzz"
    candidates = [
        "gw_sk_" + "a" * 12 + "_" + "b" * 40,
        "nonsense",
        "",
        wrong_secret,
        expired.plaintext,
        revoked.plaintext,
    ]
    bodies = set()
    for key in candidates:
        for header in ("x-api-key", "bearer"):
            response = key_client(key, header=header).get(URL)
            assert response.status_code == 401, (key, header)
            bodies.add(response.content)
    assert len(bodies) == 1
    for key in candidates:
        if key:
            assert key.encode() not in next(iter(bodies))


def test_session_auth_reads(owner):
    response = session_client(owner).get(URL)
    assert response.status_code == 200
    assert [w["slug"] for w in response.json()] == ["main"]


def test_session_writes_need_csrf(owner):
    client = session_client(owner, csrf=True)
    url = f"/api/v1/workspaces/{owner.workspace.pk}/"
    response = client.patch(url, {"name": "Renamed"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    client.get("/admin/")  # renders a form, which sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    response = client.patch(url, {"name": "Renamed"}, format="json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "Renamed"


def test_a_key_change_is_audited_under_the_key_prefix(owner, api):
    response = api.patch(f"/api/v1/workspaces/{owner.workspace.pk}/", {"name": "X"}, format="json")
    assert response.status_code == 200
    from orgs.models import AuditLogEntry

    entry = AuditLogEntry.objects.filter(action="workspace.update").latest("id")
    assert entry.actor_label == f"key {owner.key.display_prefix}"
    assert entry.actor is None


def test_a_personal_token_change_is_audited_with_its_user(owner, member):
    from orgs.models import AuditLogEntry

    token = api_key_create(
        organization=owner.organization, workspace=owner.workspace, kind="personal", user=owner.user
    )
    client = key_client(token.plaintext)
    response = client.patch(
        f"/api/v1/workspaces/{owner.workspace.pk}/", {"name": "Y"}, format="json"
    )
    assert response.status_code == 200
    entry = AuditLogEntry.objects.filter(action="workspace.update").latest("id")
    assert entry.actor_label == f"key {token.api_key.display_prefix} of alice@acme.test"
