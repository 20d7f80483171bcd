"""The CLI contract of every gateway management command, through real processes: bad input,
argument errors included, is one line on stderr and exit code 1; output piped into `head`
ends quietly."""

from __future__ import annotations

import json
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


# Runs each command line in a child process of its own (os.fork after one django.setup(), so the
# start-up is paid once): a real process per command, with its own exit code, stdout and stderr,
# as a shell script sees them.
FORK_DRIVER = """
import json, os, sys, tempfile
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_site.settings")
django.setup()
from django.core.management import ManagementUtility
results = []
for argv in json.loads(sys.argv[1]):
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    sys.stdout.flush(); sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.dup2(out.fileno(), 1); os.dup2(err.fileno(), 2)
        code = 0
        try:
            ManagementUtility(["manage.py", *argv]).execute()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        sys.stdout.flush(); sys.stderr.flush()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    out.seek(0); err.seek(0)
    code = os.waitstatus_to_exitcode(status)
    results.append([argv, code, out.read().decode(), err.read().decode()])
print(json.dumps(results))
"""


def run_each(argvs: list[list[str]], env: dict[str, str]) -> list[list]:
    proc = subprocess.run(
        [sys.executable, "-c", FORK_DRIVER, json.dumps(argvs)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_project_has_commands_from_every_cli_app():
    commands = gateway_commands()
    for expected in ("gateway_org", "gateway_redaction", "gateway_export_runs", "verify_gateway"):
        assert expected in commands
    assert len(commands) >= 17


def test_every_command_reports_a_bad_argument_in_one_line_with_exit_code_1(tmp_path):
    argvs = [[name, "--no-such-option"] for name in gateway_commands()]
    argvs += [
        ["gateway_spend_limit", "--scope", "workspace"],  # a required argument missing
        ["gateway_redaction", "acme", "--pii", "maybe"],  # a value outside the choices
        ["gateway_key", "--workspace", "a/b", "--expires-days", "soon"],  # not a number
    ]
    results = run_each(argvs, _env(tmp_path / "unused.sqlite3"))
    assert len(results) == len(argvs)
    failures = []
    for argv, code, out, err in results:
        lines = err.strip().splitlines()
        if code != 1 or len(lines) != 1 or out or not lines[0].startswith("CommandError: "):
            failures.append(f"{' '.join(argv)}: exit {code}, stderr {err!r}, stdout {out!r}")
    assert not failures, "\n".join(failures)


SEED_RUNS = """
from orgs import services
from tracing.models import TracingProject
from tracing.services import runs_ingest
from tracing.tests.factories import call_record
org = services.organization_upsert(slug="acme", llm_gateway_enabled=True)
ws = services.workspace_upsert(organization=org, slug="main")
records = [call_record(organization_id=org.pk, workspace_id=ws.pk) for _ in range(1500)]
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
