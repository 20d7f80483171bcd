"""The user and operator docs name only commands, settings and make targets that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import get_commands

# The roll-out part's docs (architecture.md, configuration.md and README.md have other owners).
DOCS = [
    Path(settings.BASE_DIR) / "docs" / f"{name}.md"
    for name in (
        "quickstart",
        "admin-setup",
        "coding-agents",
        "policies",
        "tracing",
        "operations",
        "security",
        "bedrock",
        "vertex",
        "azure",
        "custom-providers",
    )
]


def _text() -> str:
    return "\n".join(p.read_text() for p in DOCS)


def test_every_management_command_named_exists():
    named = set(re.findall(r"manage\.py ([a-z_]+)", _text()))
    assert named, "the docs name no command: the pattern is wrong"
    missing = sorted(named - set(get_commands()))
    assert not missing, f"docs name commands that do not exist: {missing}"


def test_every_gateway_setting_named_exists():
    named = set(re.findall(r"\b(GATEWAY_[A-Z0-9_]+)\b", _text()))
    named -= {"GATEWAY_WORKERS"}  # a variable of the Makefile, not of settings.py
    assert named
    missing = sorted(n for n in named if not hasattr(settings, n))
    assert not missing, f"docs name settings that do not exist: {missing}"


@pytest.mark.parametrize("target", sorted(set(re.findall(r"`make ([a-z-]+)", _text()))))
def test_every_make_target_named_exists(target):
    makefile = (Path(settings.BASE_DIR) / "Makefile").read_text()
    assert re.search(rf"^{re.escape(target)}:", makefile, flags=re.M), target
