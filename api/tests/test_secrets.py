from __future__ import annotations

from api.tests.conftest import SECRET_VALUE, detail
from orgs.models import AuditLogEntry
from secrets_vault.models import ProviderSecret


def secrets_url(persona, name=""):
    base = f"/api/v1/workspaces/{persona.workspace.pk}/secrets/"
    return f"{base}{name}/" if name else base


def test_set_list_delete_never_return_the_value(owner, api):
    bodies = []
    response = api.put(secrets_url(owner, "OPENAI_API_KEY"), {"value": SECRET_VALUE}, format="json")
    bodies.append(response.content)
    assert response.status_code == 200, response.content
    assert response.json()["last4"] == SECRET_VALUE[-4:]
    response = api.get(secrets_url(owner))
    bodies.append(response.content)
    assert [(s["name"], s["last4"]) for s in response.json()] == [("OPENAI_API_KEY", "XYZW")]
    assert response.json()[0]["set_at"]
    response = api.delete(secrets_url(owner, "OPENAI_API_KEY"))
    assert response.status_code == 204
    assert not ProviderSecret.objects.filter(workspace=owner.workspace).exists()
    assert api.delete(secrets_url(owner, "OPENAI_API_KEY")).status_code == 404
    response = api.get("/api/v1/audit-log/")
    bodies.append(response.content)
    for body in bodies:
        assert SECRET_VALUE.encode() not in body
        assert SECRET_VALUE[:-4].encode() not in body
    assert not AuditLogEntry.objects.filter(after__icontains=SECRET_VALUE).exists()


def test_base_url_is_ssrf_guarded(owner, api, settings):
    url = secrets_url(owner, "ANTHROPIC_API_KEY")
    body = {"value": SECRET_VALUE, "base_url": "http://169.254.169.254/latest"}
    response = api.put(url, body, format="json")
    assert response.status_code == 403
    assert "superuser" in detail(response)
    settings.GATEWAY_UPSTREAM_ALLOWED_HOSTS = ["llm-proxy.internal"]
    body["base_url"] = "https://llm-proxy.internal/anthropic"
    response = api.put(url, body, format="json")
    assert response.status_code == 200
    assert response.json()["base_url"] == "https://llm-proxy.internal/anthropic"
    response = api.put(url, {"base_url": "ftp://x"}, format="json")
    assert response.status_code == 400


def test_unknown_name_is_404_and_new_secret_needs_a_value(owner, api):
    assert api.put(secrets_url(owner, "AWS_KEY"), {"value": "x"}, format="json").status_code == 404
    response = api.put(secrets_url(owner, "GOOGLE_API_KEY"), {}, format="json")
    assert response.status_code == 400
    assert "needs a value" in detail(response)


def test_member_without_workspaces_manage_is_403(owner, as_member, as_readonly):
    for client in (as_member, as_readonly):
        assert client.get(secrets_url(owner)).status_code == 403
        body = {"value": SECRET_VALUE}
        assert (
            client.put(secrets_url(owner, "OPENAI_API_KEY"), body, format="json").status_code == 403
        )
        assert client.delete(secrets_url(owner, "OPENAI_API_KEY")).status_code == 403


def test_outsider_gets_404(owner, api, as_outsider):
    api.put(secrets_url(owner, "OPENAI_API_KEY"), {"value": SECRET_VALUE}, format="json")
    assert as_outsider.get(secrets_url(owner)).status_code == 404
    body = {"value": "sk-outsider"}
    assert (
        as_outsider.put(secrets_url(owner, "OPENAI_API_KEY"), body, format="json").status_code
        == 404
    )
    assert as_outsider.delete(secrets_url(owner, "OPENAI_API_KEY")).status_code == 404
    assert ProviderSecret.objects.get(workspace=owner.workspace).last4 == "XYZW"


def test_cloud_secrets_through_the_api(owner, api, as_outsider):
    """A service account key file and an AWS region through the REST API (the key file is JSON
    in a JSON string); a bad region is a 400 naming the field; outsiders get 404."""
    import json

    from devtools.fake_formats_cloud import fake_service_account

    info = fake_service_account("https://oauth2.googleapis.com/token")
    url = secrets_url(owner, "VERTEX_SERVICE_ACCOUNT_JSON")
    response = api.put(url, {"value": json.dumps(info, indent=2)}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["last4"] == "beef" and b"PRIVATE KEY" not in response.content
    response = api.put(secrets_url(owner, "AWS_REGION"), {"value": "Paris"}, format="json")
    assert response.status_code == 400 and "AWS_REGION" in response.content.decode()
    assert as_outsider.put(url, {"value": json.dumps(info)}, format="json").status_code == 404
