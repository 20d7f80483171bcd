"""The commands of docs/quickstart.md, run as written against the demo set-up (manage.py
gateway_demo) on a real gateway and the fake provider."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from rollout.tests.conftest import wait_recorder_idle
from tracing.models import Run

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("db_access")]

QUICKSTART = Path(settings.BASE_DIR) / "docs" / "quickstart.md"


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", QUICKSTART.read_text(), flags=re.S)


@pytest.fixture(scope="module")
def demo(traced_servers, django_db_blocker) -> Iterator[tuple[object, str]]:
    """`manage.py gateway_demo` pointed at the fake provider: (servers, the printed key).
    Everything it created is removed afterwards (it is committed: the gateway reads it)."""
    from django.contrib.auth import get_user_model

    from orgs.models import AuditLogEntry, Organization
    from rollout.tests.world import ensure_builtin_roles

    out = io.StringIO()
    with django_db_blocker.unblock():
        ensure_builtin_roles()
        existed = Organization.objects.filter(slug="demo").exists()
        mark = AuditLogEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        call_command("gateway_demo", "--fake-provider-url", traced_servers.fake_url, stdout=out)
    match = re.search(r"key:\s+(gw_sk_\S+)", out.getvalue())
    assert match, out.getvalue()
    try:
        yield traced_servers, match.group(1)
    finally:
        wait_recorder_idle(traced_servers.app)
        with django_db_blocker.unblock():
            if not existed:
                Organization.objects.filter(slug="demo").delete()
                get_user_model().objects.filter(
                    username="admin", email="admin@demo.invalid"
                ).delete()
            AuditLogEntry.objects.filter(pk__gt=mark).delete()


def with_values(block: str, gw: str, key: str) -> str:
    """The block with its `export GW=…` and `export KEY=…` lines given real values."""
    block = re.sub(r"^export GW=\S+", f"export GW={gw}", block, flags=re.M)
    return re.sub(r"^export KEY=\S+", f"export KEY={key}", block, flags=re.M)


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs the curl binary")
def test_the_verification_curl_works_against_the_demo(demo):
    gateway, key = demo
    (block,) = [b for b in code_blocks("bash") if "curl" in b]
    assert "export GW=" in block and "export KEY=" in block
    result = subprocess.run(
        ["bash", "-c", with_values(block, gateway.url, key)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    answer = json.loads(result.stdout)
    assert answer["choices"][0]["message"]["content"] == "Echo: Say hello"
    wait_recorder_idle(gateway.app)
    run = Run.objects.select_related("project__workspace__organization").get(
        project__workspace__organization__slug="demo", provider="openai"
    )
    assert run.project.name == "gateway"
    assert run.project.workspace.slug == "default"


def test_the_sdk_snippets_work_against_the_demo(demo):
    gateway, key = demo
    (env_block,) = [b for b in code_blocks("bash") if "OPENAI_BASE_URL" in b]
    (python_block,) = code_blocks("python")
    script = f"export GW={gateway.url} KEY={key}\n{env_block}\n{sys.executable} - <<'PY'\n{python_block}PY\n"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI", "ANTHROPIC", "GOOGLE", "GEMINI"))
    }
    result = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == ["Echo: hello", "Echo: hello", "Echo: hello"]
    assert key not in result.stderr
