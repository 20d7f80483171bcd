"""The CLI contract of every gateway management command, through real processes: bad input,
argument errors included, is one line on stderr and exit code 1; output piped into `head`
ends quietly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management import get_commands

ROOT = Path(settings.BASE_DIR)
# The project's own apps (those living in this repository), whatever their number.
PROJECT_APPS = {
    config.name
    for config in apps.get_app_configs()
    if Path(config.path).resolve().is_relative_to(ROOT) and ".venv" not in Path(config.path).parts
}


def gateway_commands() -> list[str]:
    return sorted(name for name, app in get_commands().items() if app in PROJECT_APPS)


def _env(sqlite_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["SQLITE_PATH"] = str(sqlite_path)
    return env


def test_the_project_has_commands_from_every_cli_app():
    commands = gateway_commands()
    for expected in ("gateway_org", "gateway_redaction", "gateway_export_runs", "verify_gateway"):
        assert expected in commands
    assert len(commands) >= 17


def test_every_command_reports_a_bad_argument_in_one_line_with_exit_code_1(tmp_path):
    env = _env(tmp_path / "unused.sqlite3")
    procs = {
        name: subprocess.Popen(
            [sys.executable, "manage.py", name, "--no-such-option"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in gateway_commands()
    }
    failures = []
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        lines = err.strip().splitlines()
        if proc.returncode != 1 or len(lines) != 1 or out:
            failures.append(f"{name}: exit {proc.returncode}, stderr {err!r}, stdout {out!r}")
            continue
        assert lines[0].startswith("CommandError: "), (name, err)
        assert "Traceback" not in err
    assert not failures, "\n".join(failures)


def test_a_missing_required_argument_and_a_refused_value_are_one_line_too(tmp_path):
    env = _env(tmp_path / "unused.sqlite3")
    for args in (
        ["gateway_spend_limit", "--scope", "workspace"],
        ["gateway_redaction", "acme", "--pii", "maybe"],
        ["gateway_key", "--workspace", "a/b", "--expires-days", "soon"],
    ):
        proc = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 1, (args, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1, (args, proc.stderr)


SEED_RUNS = """
from orgs import services
from tracing.models import TracingProject
from tracing.services import runs_ingest
from tracing.tests.factories import call_record
org = services.organization_upsert(slug="acme", llm_gateway_enabled=True)
ws = services.workspace_upsert(organization=org, slug="main")
records = [call_record(organization_id=org.pk, workspace_id=ws.pk) for _ in range(3000)]
for start in range(0, len(records), 500):
    runs_ingest(records[start:start + 500])
"""


def test_output_piped_into_head_ends_quietly(tmp_path):
    env = _env(tmp_path / "db.sqlite3")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=300
    )
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SEED_RUNS],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    proc = subprocess.run(
        f"{sys.executable} manage.py gateway_export_runs acme/main | head -n 1",
        shell=True,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.stdout.count("\n") == 1 and proc.stdout.startswith("{")
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
