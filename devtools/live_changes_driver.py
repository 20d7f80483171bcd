"""The admin's side of the live-changes check (devtools/live_changes.py): a separate process
that sets up the phases' organizations, or makes one change through the real management
command, and prints when it committed.

    python -m devtools.live_changes_driver setup FAKE_URL      → JSON list of phases
    python -m devtools.live_changes_driver serve                 → one change per stdin line

`serve` reads lines `NAME PHASE_JSON` and answers each with one JSON line,
{"committed_at": epoch} or {"error": "..."}, so one admin process makes every change (as an
operator's shell would) without paying Django's start-up per change.

The database and Redis come from the environment, as for any `manage.py` command.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
import uuid
from typing import Any

PHASES = ("redaction", "spend", "revoke", "disable", "role", "secret")
CUSTOM_ROLE = "live-invoker"
INVOKE = "gateway:invoke,workspaces:read,projects:read,runs:read"
WITHOUT_INVOKE = "workspaces:read,projects:read,runs:read"


def setup(fake_url: str) -> list[dict[str, Any]]:
    """One organization per phase (so one change cannot disturb another), each with a
    workspace, a service key and the OpenAI secret on the fake provider."""
    from orgs import services
    from orgs.models import Role
    from secrets_vault.services import secret_set

    tag = uuid.uuid4().hex[:6]
    phases = []
    for name in PHASES:
        org = services.organization_upsert(
            slug=f"live-{tag}-{name}", plan="enterprise", llm_gateway_enabled=True
        )
        ws = services.workspace_upsert(organization=org, slug="main")
        if name == "role":
            role = services.role_upsert(
                organization=org, name=CUSTOM_ROLE, permissions=INVOKE.split(",")
            )
        else:
            role = Role.objects.get(builtin=True, name="WORKSPACE_ADMIN")
        created = services.api_key_create(
            organization=org, workspace=ws, role=role, name=f"live {name}"
        )
        secret_set(
            workspace=ws, name="OPENAI_API_KEY", value=f"sk-live-old-{tag}", base_url=fake_url
        )
        phases.append(
            {
                "name": name,
                "org": org.slug,
                "workspace": f"{org.slug}/main",
                "key": created.plaintext,
                "key_prefix": created.api_key.display_prefix,
                "old_secret": f"sk-live-old-{tag}",
                "new_secret": f"sk-live-new-{tag}",
            }
        )
    return phases


def change(name: str, phase: dict[str, Any]) -> float:
    """The change of phase `name`, as an operator makes it: one management command. Returns
    when its (last) transaction committed, taken by a commit hook of our own."""
    from django.db import transaction
    from django.db.models.signals import post_delete, post_save

    commits: list[float] = []

    def stamp(**kwargs: Any) -> None:
        transaction.on_commit(lambda: commits.append(time.time()))

    post_save.connect(stamp, weak=False, dispatch_uid="live-changes-stamp-save")
    post_delete.connect(stamp, weak=False, dispatch_uid="live-changes-stamp-delete")
    try:
        _command(name, phase)
    finally:
        post_save.disconnect(dispatch_uid="live-changes-stamp-save")
        post_delete.disconnect(dispatch_uid="live-changes-stamp-delete")
    return max(commits) if commits else time.time()


def _command(name: str, phase: dict[str, Any]) -> None:
    from django.core.management import call_command

    out = io.StringIO()
    if name == "redaction":
        call_command(
            "gateway_redaction",
            phase["workspace"],
            "--pii",
            "on",
            "--secrets",
            "on",
            "--restore",
            "off",
            stdout=out,
        )
    elif name == "spend":
        call_command(
            "gateway_spend_limit",
            "--scope",
            "workspace",
            "--subject",
            phase["workspace"],
            "--window",
            "daily",
            "--usd",
            "0.000001",
            stdout=out,
        )
    elif name == "revoke":
        call_command("gateway_revoke_key", phase["key_prefix"], stdout=out)
    elif name == "disable":
        call_command("gateway_org", phase["org"], "--disable-gateway", stdout=out)
    elif name == "role":
        call_command(
            "gateway_role", phase["org"], CUSTOM_ROLE, "--permissions", WITHOUT_INVOKE, stdout=out
        )
    elif name == "secret":
        call_command(
            "gateway_secret",
            phase["workspace"],
            "OPENAI_API_KEY",
            stdin=io.StringIO(phase["new_secret"]),
            stdout=out,
        )
    else:
        raise SystemExit(f"unknown change {name!r}")


def count_runs(org_slugs: list[str]) -> dict[str, int]:
    """Runs stored per organization; with Redis, the record stream is drained first (what the
    Celery worker does every second in production)."""
    from django.conf import settings

    from tracing.models import Run

    if settings.REDIS_URL:
        from tracing.shipping import runs_drain

        while runs_drain(max_seconds=5.0):
            pass
    return {slug: Run.objects.filter(organization__slug=slug).count() for slug in org_slugs}


def _say(answer: object) -> None:
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_site.settings")
    import django

    django.setup()
    if argv[0] == "setup":
        _say(setup(argv[1]))
    elif argv[0] == "serve":
        _say({"ready": True})
        for line in sys.stdin:
            name, _, phase = line.strip().partition(" ")
            if name == "count":
                _say(count_runs(json.loads(phase)))
                continue
            try:
                committed_at = change(name, json.loads(phase))
            except Exception as exc:  # reported to the harness, which fails the change
                _say({"error": f"{type(exc).__name__}: {exc}"})
                continue
            _say({"committed_at": committed_at})
    else:
        raise SystemExit(f"unknown operation {argv[0]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
