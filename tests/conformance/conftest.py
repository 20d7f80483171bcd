"""Conformance tests run against a real gateway and the fake provider (rollout/tests/conftest.py)."""

from __future__ import annotations

from rollout.tests.conftest import db_access, traced_servers, world  # noqa: F401 - fixtures
