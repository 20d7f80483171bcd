"""Conformance tests run against a real gateway and the fake provider (rollout/tests/conftest.py)."""

from __future__ import annotations

from rollout.tests.conftest import builtin_roles, gateway, traced_servers  # noqa: F401 - fixtures
