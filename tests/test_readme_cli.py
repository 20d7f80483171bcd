"""The README's CLI table lists every management command the project ships."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_project_command_is_in_the_readme_cli_table() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Ops CLI", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([a-z_]+)", table, flags=re.MULTILINE))
    shipped = {
        path.stem
        for path in ROOT.glob("*/management/commands/*.py")
        if path.stem != "__init__" and ".venv" not in path.parts
    }
    assert shipped - listed == set()
