from __future__ import annotations


def test_admin_static_files_are_served_without_runserver(client):
    # make run / make serve use gunicorn + uvicorn, which serve no static files by themselves.
    response = client.get("/static/admin/css/base.css")
    assert response.status_code == 200
    assert b"".join(response.streaming_content)[:200].strip()


def test_api_docs_assets_are_served_locally(client):
    response = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css")
    assert response.status_code == 200
