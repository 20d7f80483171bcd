from __future__ import annotations

import json


def test_the_schema_is_openapi_3_with_every_resource(client, db):
    response = client.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    paths = set(schema["paths"])
    for expected in (
        "/api/v1/organizations/",
        "/api/v1/workspaces/{workspace_id}/members/{user_id}/",
        "/api/v1/organizations/{organization_id}/roles/{role_id}/",
        "/api/v1/workspaces/{workspace_id}/service-keys/",
        "/api/v1/personal-tokens/",
        "/api/v1/workspaces/{workspace_id}/secrets/{name}/",
        "/api/v1/audit-log/",
    ):
        assert expected in paths
    schemes = schema["components"]["securitySchemes"]
    assert schemes["gatewayKey"] == {"type": "apiKey", "in": "header", "name": "x-api-key"}
    assert schemes["gatewayBearer"]["scheme"] == "bearer"
    secret_out = schema["components"]["schemas"]["ProviderSecret"]["properties"]
    assert "value" not in secret_out and "ciphertext" not in secret_out


def test_the_docs_page_serves_local_assets(client, db):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "drf_spectacular_sidecar" in html
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html


def test_unrouted_api_paths_get_a_json_404_with_a_slash_hint(client, db):
    response = client.get("/api/v1/workspaces")
    assert response.status_code == 404
    assert response.json()["detail"].endswith("API paths end with a slash: /api/v1/workspaces/")
    response = client.delete("/api/v1/workspaces/not-a-number/")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    response = client.get("/api/v1/nothing-here")
    assert response.json()["detail"] == "Not found: no such API endpoint or object."
