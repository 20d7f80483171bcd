"""Shared set-up of the tracing benchmarks: a dedicated PostgreSQL database (created and
migrated when missing), Django configured for it, and one organization/workspace/key."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/gw_h3_bench"
BENCH_REDIS_URL = "redis://127.0.0.1:6379/3"


def setup_django(*, redis: bool) -> None:
    """Point Django at the bench database (and Redis), create the database if needed, migrate."""
    os.environ.setdefault("DATABASE_URL", BENCH_DATABASE_URL)
    if redis:
        os.environ.setdefault("REDIS_URL", BENCH_REDIS_URL)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_site.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    _create_database(os.environ["DATABASE_URL"])
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def _create_database(url: str) -> None:
    from urllib.parse import urlparse

    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin_url = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def bench_persona() -> Any:
    """acme-bench/main with a WORKSPACE_ADMIN user and a service key (idempotent)."""
    from orgs import services
    from orgs.models import ApiKey, Role

    org = services.organization_upsert(slug="acme-bench", plan="basic", llm_gateway_enabled=True)
    ws = services.workspace_upsert(organization=org, slug="main")
    user = services.user_get_or_create(email="bench@acme-bench.test")
    user.is_staff = True
    user.save()
    role = Role.objects.get(builtin=True, name="WORKSPACE_ADMIN")
    services.member_set(workspace=ws, user=user, role=role)
    key = ApiKey.objects.filter(workspace=ws, name="bench").first()
    if key is None:
        key = services.api_key_create(
            organization=org, workspace=ws, role=role, user=user, name="bench"
        ).api_key
    return org, ws, user, key
