"""The proxy imports nothing that renders HTML or serves the management API (STYLE 2.4)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

FORBIDDEN = (
    "django.contrib.admin",
    "django.forms",
    "django.template",
    "django.shortcuts",
    "django.views",
    "rest_framework",
    "drf_spectacular",
)
PROXY_DIR = Path(__file__).resolve().parent.parent
HOT_PATH = [p for p in PROXY_DIR.glob("*.py") if p.name not in ("__init__.py", "apps.py")]
HOT_PATH += list((PROXY_DIR / "providers").glob("*.py"))


def test_no_proxy_module_imports_admin_forms_templates_or_drf() -> None:
    for path in HOT_PATH:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(FORBIDDEN), f"{path.name} imports {name}"
                assert not name.endswith((".admin", ".forms", ".views", ".serializers")), (
                    f"{path.name} imports {name}"
                )


def test_importing_the_proxy_loads_none_of_them() -> None:
    """django.setup() loads the admin for the whole site; what proxy.app adds on top must not
    include any of the forbidden packages (checked in a clean interpreter)."""
    script = (
        "import os, sys, json, django\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'gateway_site.settings')\n"
        "django.setup()\n"
        "before = set(sys.modules)\n"
        "import proxy.app, devtools.fake_provider\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        check=True,
        capture_output=True,
        text=True,
        cwd=PROXY_DIR.parent,
        timeout=60,
    )
    added = json.loads(out.stdout.strip().splitlines()[-1])
    assert "proxy.app" in added
    bad = [m for m in added if m.startswith(FORBIDDEN)]
    assert bad == []
