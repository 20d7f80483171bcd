"""Validation of an admin's custom patterns, so a bad one cannot stall the gateway.

A pattern is accepted when it compiles with the `regex` engine, is at most 500 characters,
cannot match the empty string, and runs over adversarial inputs (long runs of the characters
it mentions, then a character that breaks the match: the shape that triggers catastrophic
backtracking) and over a 64 KB sample within a small time budget. At scan time each custom
pattern also runs with the time left before the policy's deadline as its regex timeout.
"""

from __future__ import annotations

import re as stdlib_re
import time

import regex
from django.core.exceptions import ValidationError

from policies.redaction.rules import MAX_CUSTOM_PATTERNS

NAME_RE = stdlib_re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
MAX_PATTERN_LENGTH = 500
PROBE_BUDGET_SECONDS = 0.05  # per adversarial input
SAMPLE_BUDGET_SECONDS = 0.1  # for the 64 KB sample
_SAMPLE = (
    "def handler(event):\n    user = event['user']  # id 8f14e45f-ceea-467f-a8f0-3e4b2c1d0a9b\n"
    "2024-05-01T12:00:00Z INFO request_id=42 path=/v1/items?page=3 status=200 took=13ms\n"
    "Hello team, the deploy of v2.3.1 finished; see https://docs.example.org/guide#step-4.\n"
) * 250


def _probes(pattern: str) -> list[str]:
    chars = {c for c in pattern if c.isprintable()} | set("aA0_-. @/x")
    probes = []
    for char in sorted(chars)[:40]:
        probes.append(char * 4000 + "\x00")
    probes.append("ab" * 2000 + "\x00")
    probes.append("a1" * 2000 + "!")
    probes.append("a " * 2000 + "\x00")
    return probes


def validate_pattern(name: str, pattern: str) -> None:
    """Raise ValidationError with a one-line reason when `pattern` is unusable or too slow."""
    if not NAME_RE.match(name or ""):
        raise ValidationError(
            f"custom pattern name {name!r}: use a letter then letters, digits or _ (max 40)"
        )
    if not pattern or len(pattern) > MAX_PATTERN_LENGTH:
        raise ValidationError(f"custom pattern {name!r}: 1 to {MAX_PATTERN_LENGTH} characters")
    try:
        compiled = regex.compile(pattern)
    except (regex.error, ValueError) as exc:
        raise ValidationError(f"custom pattern {name!r} is not a valid regex: {exc}") from exc
    if compiled.fullmatch("") is not None:
        raise ValidationError(f"custom pattern {name!r} matches the empty string")
    try:
        for probe in _probes(pattern):
            for _ in compiled.finditer(probe, timeout=PROBE_BUDGET_SECONDS):
                pass
        started = time.monotonic()
        for _ in compiled.finditer(_SAMPLE, timeout=SAMPLE_BUDGET_SECONDS):
            pass
    except TimeoutError as exc:
        raise ValidationError(
            f"custom pattern {name!r} is too slow on adversarial input (catastrophic backtracking?): "
            "simplify nested or overlapping repetitions"
        ) from exc
    if time.monotonic() - started > SAMPLE_BUDGET_SECONDS:
        raise ValidationError(f"custom pattern {name!r} is too slow")


def validate_custom_patterns(patterns: object) -> list[dict[str, str]]:
    """A clean list of {"name", "pattern"} (at most 10, unique names), or ValidationError."""
    if patterns in (None, ""):
        return []
    if not isinstance(patterns, list):
        raise ValidationError("custom patterns must be a list of {name, pattern}")
    if len(patterns) > MAX_CUSTOM_PATTERNS:
        raise ValidationError(f"at most {MAX_CUSTOM_PATTERNS} custom patterns")
    clean: list[dict[str, str]] = []
    seen: set[str] = set()
    for item in patterns:
        if not isinstance(item, dict):
            raise ValidationError("each custom pattern is an object with name and pattern")
        name, pattern = str(item.get("name", "")), str(item.get("pattern", ""))
        validate_pattern(name, pattern)
        if name.lower() in seen:
            raise ValidationError(f"custom pattern name {name!r} is used twice")
        seen.add(name.lower())
        clean.append({"name": name, "pattern": pattern})
    return clean
