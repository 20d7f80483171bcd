"""The settings module refuses dangerous combinations at start-up and parses DATABASE_URL.

Each case imports gateway_site.settings in a fresh interpreter with its own environment, as a
real start-up does (the test process's settings are already loaded)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from gateway_site.settings import SQLITE_DATABASE, parse_database_url

SAFE = {
    "DEBUG": "False",
    "SECRET_KEY": "a-real-secret-key-for-production-use-0123456789",
    "GATEWAY_SECRETS_KEYS": Fernet.generate_key().decode(),
    "GATEWAY_KEY_PEPPERS": "1:a-real-pepper-value",
    "ALLOWED_HOSTS": "gateway.example.com",
}


def load_settings(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in SAFE and not k.startswith("GATEWAY_")}
    return subprocess.run(
        [sys.executable, "-c", "import gateway_site.settings"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_starts_with_production_values():
    assert load_settings(**SAFE).returncode == 0


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        ("SECRET_KEY", "development SECRET_KEY"),
        ("GATEWAY_SECRETS_KEYS", "development GATEWAY_SECRETS_KEYS"),
        ("GATEWAY_KEY_PEPPERS", "development GATEWAY_KEY_PEPPERS"),
    ],
)
def test_it_refuses_development_keys_with_debug_off(drop, message):
    env = {k: v for k, v in SAFE.items() if k != drop}
    result = load_settings(**env)
    assert result.returncode != 0 and message in result.stderr


def test_debug_is_off_unless_turned_on():
    """A production start that forgets DEBUG gets DEBUG off, so it refuses the development keys
    rather than serving Django's debug pages (`make run` turns it on)."""
    env = {k: v for k, v in SAFE.items() if k not in ("DEBUG", "SECRET_KEY")}
    clean = {k: v for k, v in os.environ.items() if k != "DEBUG"}
    result = subprocess.run(
        [sys.executable, "-c", "import gateway_site.settings as s; print(s.DEBUG)"],
        env={**{k: v for k, v in clean.items() if k not in SAFE}, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "development SECRET_KEY" in result.stderr
    result = subprocess.run(
        [sys.executable, "-c", "import gateway_site.settings as s; print(s.DEBUG)"],
        env={**{k: v for k, v in clean.items() if k not in SAFE}, **env, "SECRET_KEY": "x" * 50},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and result.stdout.strip() == "False"


def test_it_refuses_any_host_with_debug_off():
    result = load_settings(**{**SAFE, "ALLOWED_HOSTS": "*"})
    assert result.returncode != 0 and "ALLOWED_HOSTS=*" in result.stderr


def test_it_accepts_only_true_or_false_for_booleans():
    result = load_settings(DEBUG="yes")
    assert result.returncode != 0 and "DEBUG must be True or False" in result.stderr


def test_secrets_can_come_from_files(tmp_path):
    key_file = tmp_path / "secret_key"
    key_file.write_text(SAFE["SECRET_KEY"] + "\n")
    env = {k: v for k, v in SAFE.items() if k != "SECRET_KEY"}
    assert load_settings(**env, SECRET_KEY_FILE=str(key_file)).returncode == 0


def test_database_url_is_parsed_for_postgres():
    db = parse_database_url(
        "postgres://gw:p%40ss@db.internal:6543/gateway?sslmode=require", sqlite=SQLITE_DATABASE
    )
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["USER"], db["PASSWORD"], db["HOST"], str(db["PORT"]), db["NAME"]) == (
        "gw",
        "p@ss",
        "db.internal",
        "6543",
        "gateway",
    )
    assert db["OPTIONS"] == {"sslmode": "require"}
    assert db["CONN_HEALTH_CHECKS"] is True


def test_the_postgresql_scheme_names_the_same_engine():
    db = parse_database_url("postgresql://postgres@127.0.0.1/gw", sqlite=SQLITE_DATABASE)
    assert (db["ENGINE"], db["NAME"], db["HOST"]) == (
        "django.db.backends.postgresql",
        "gw",
        "127.0.0.1",
    )


def test_a_sqlite_url_gets_the_embedded_defaults_options(tmp_path):
    path = tmp_path / "gw.sqlite3"
    db = parse_database_url(f"sqlite:///{path}", sqlite=SQLITE_DATABASE)
    assert db["ENGINE"] == "django.db.backends.sqlite3" and db["NAME"] == str(path)
    assert db["OPTIONS"] == SQLITE_DATABASE["OPTIONS"]


def test_a_sqlite_url_starts_the_project(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--database", "default"],
        env={**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'gw.sqlite3'}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_an_unsupported_database_url_is_refused():
    result = load_settings(DATABASE_URL="mysql://root@localhost/gw", DEBUG="True")
    assert (
        result.returncode != 0 and "DATABASE_URL scheme 'mysql' is not supported" in result.stderr
    )
    result = load_settings(DATABASE_URL="not a url", DEBUG="True")
    assert result.returncode != 0 and "DATABASE_URL" in result.stderr
