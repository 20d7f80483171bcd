"""Two gateways started from one checkout, with different databases and the default spool
directory: records spooled by one are only ever stored in its own database."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SPOOL = """
import django, json, sys, time, uuid
django.setup()
from hotpath.callrecord import CallRecord
from orgs.models import Workspace
from tracing.spool import spool_write
ws = Workspace.objects.get(slug="w")
ids = [uuid.uuid4().hex for _ in range(int(sys.argv[1]))]
spool_write([CallRecord(run_id=i, trace_id=i, started_at=time.time(),
                        organization_id=ws.organization_id, workspace_id=ws.pk) for i in ids])
print(json.dumps(ids))
"""
SHIP = """
import django, json, sys, time, uuid
django.setup()
from hotpath.callrecord import CallRecord
from tracing.models import Run
from tracing.shipping import ship_records
from orgs.models import Workspace
ws = Workspace.objects.get(slug="w")
i = uuid.uuid4().hex
ship_records([CallRecord(run_id=i, trace_id=i, started_at=time.time(),
                         organization_id=ws.organization_id, workspace_id=ws.pk)])
# Without Redis the record writer process stores what was shipped (and what this database
# had spooled): wait for it, bounded.
from tracing.spool import spool_pending
deadline = time.monotonic() + 60
while time.monotonic() < deadline and (
    spool_pending() or not Run.objects.filter(run_id=uuid.UUID(i)).exists()
):
    time.sleep(0.1)
print(json.dumps(sorted(r.hex for r in Run.objects.values_list("run_id", flat=True))))
"""
SEED = """
import django
django.setup()
from orgs import services
org = services.organization_upsert(slug="o", llm_gateway_enabled=True)
services.workspace_upsert(organization=org, slug="w")
"""


def _run(script: str, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    return lines[-1] if lines else ""


@pytest.mark.django_db
def test_a_spool_is_replayed_only_into_the_database_it_was_meant_for(tmp_path):
    import json

    spool = tmp_path / "spool"  # one directory, as the default <checkout>/var/spool is
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "REDIS_URL", "SQLITE_PATH", "GATEWAY_"))
    }
    base.update(DEBUG="True", DJANGO_SETTINGS_MODULE="gateway_site.settings")
    base["GATEWAY_SPOOL_DIR"] = str(spool)
    first, second = tmp_path / "a.sqlite3", tmp_path / "b.sqlite3"
    env_a = {**base, "SQLITE_PATH": str(first)}
    env_b = {**base, "SQLITE_PATH": str(second)}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env_a, check=True)
    _run(SEED, env_a)
    shutil.copy(first, second)  # same schema and rows, another database

    spooled = json.loads(_run(SPOOL, env_a, "3"))  # A spools at shutdown (database down)
    stored_b = json.loads(_run(SHIP, env_b))  # B starts from the same checkout and ships
    assert not set(spooled) & set(stored_b)  # none of A's records went into B's database
    assert len(stored_b) == 1
    stored_a = json.loads(_run(SHIP, env_a))  # A comes back: its own records, replayed
    assert set(spooled) <= set(stored_a) and len(stored_a) == 4
