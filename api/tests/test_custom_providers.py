from __future__ import annotations

from api.tests.conftest import SECRET_VALUE, detail
from orgs.models import AuditLogEntry
from secrets_vault.models import CustomProvider


def url(persona, name=""):
    base = f"/api/v1/workspaces/{persona.workspace.pk}/providers/"
    return f"{base}{name}/" if name else base


BODY = {
    "api": "openai",
    "base_url": "https://vllm.internal/v1",
    "secret": SECRET_VALUE,
    "extra_headers": {"X-Tenant": "tenant-credential-value"},
    "models": ["llama-3.1-8b"],
}


def test_create_list_update_delete_never_return_the_secret(owner, api, settings):
    settings.GATEWAY_UPSTREAM_ALLOWED_HOSTS = ["vllm.internal"]
    bodies = []
    response = api.put(url(owner, "vllm"), BODY, format="json")
    bodies.append(response.content)
    assert response.status_code == 200, response.content
    got = response.json()
    assert got["has_secret"] and got["last4"] == "XYZW" and got["path"] == "/providers/vllm/v1"
    assert got["header_names"] == ["X-Tenant"] and got["models"] == ["llama-3.1-8b"]
    response = api.get(url(owner))
    bodies.append(response.content)
    assert [p["name"] for p in response.json()] == ["vllm"]
    response = api.put(url(owner, "vllm"), {"clear_secret": True, "models": []}, format="json")
    assert response.status_code == 200 and not response.json()["has_secret"]
    assert response.json()["base_url"] == "https://vllm.internal/v1"
    bodies.append(api.get(url(owner, "vllm")).content)
    bodies.append(api.get("/api/v1/audit-log/").content)
    for body in bodies:
        assert SECRET_VALUE.encode() not in body and b"tenant-credential-value" not in body
    assert api.delete(url(owner, "vllm")).status_code == 204
    assert api.get(url(owner, "vllm")).status_code == 404
    assert AuditLogEntry.objects.filter(action__startswith="custom_provider.").count() == 3


def test_bad_input_and_the_base_url_guard(owner, api):
    response = api.put(url(owner, "meta"), {"base_url": "http://169.254.169.254/x"}, format="json")
    assert response.status_code == 403 and "superuser" in detail(response)
    response = api.put(url(owner, "new"), {}, format="json")
    assert response.status_code == 400 and "needs a base URL" in detail(response)
    response = api.put(url(owner, "Bad_Name"), BODY, format="json")
    assert response.status_code == 400
    assert not CustomProvider.objects.exists()


def test_members_without_workspaces_manage_are_403(owner, as_member):
    assert as_member.get(url(owner)).status_code == 403
    assert as_member.put(url(owner, "x"), BODY, format="json").status_code == 403


def test_outsider_gets_404(owner, api, as_outsider, settings):
    settings.GATEWAY_UPSTREAM_ALLOWED_HOSTS = ["vllm.internal"]
    assert api.put(url(owner, "vllm"), BODY, format="json").status_code == 200
    assert as_outsider.get(url(owner)).status_code == 404
    assert as_outsider.get(url(owner, "vllm")).status_code == 404
    body = {"base_url": "https://vllm.internal/v1"}
    assert as_outsider.put(url(owner, "vllm"), body, format="json").status_code == 404
    assert as_outsider.delete(url(owner, "vllm")).status_code == 404
    assert CustomProvider.objects.get().last4 == "XYZW"
