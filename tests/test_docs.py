"""The code and the docs speak of the product only: no references to documents outside the
repository (specification sections, style guides, issue numbers), and every relative link in
the docs points at a file that exists."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTSIDE = re.compile(r"SPEC(\.md| ?§)|STYLE\.md|style guide|\b[Ii]ssue #?\d+\b")
LINK = re.compile(r"\]\(([^)#:\s]+)(#[^)]*)?\)")


def _tracked(*patterns: str) -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", *patterns], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return [ROOT / line for line in out.splitlines() if (ROOT / line).is_file()]


def test_no_reference_to_documents_outside_the_repository() -> None:
    found = []
    for path in _tracked("*.py", "*.md", "*.html", "*.txt", "Makefile", "*.toml"):
        if path == Path(__file__):
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert not found, "\n".join(found)


def test_relative_links_in_the_docs_point_at_files() -> None:
    broken = []
    for path in _tracked("*.md"):
        for target, _ in LINK.findall(path.read_text()):
            if not (path.parent / target).exists():
                broken.append(f"{path.relative_to(ROOT)} → {target}")
    assert not broken, "\n".join(broken)
