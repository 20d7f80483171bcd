"""One real gateway (no gates) and the fake provider per test module; see proxy.testing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from proxy.testing import RunningGateway, running_gateway


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="module")
def servers(django_db_setup: Any, django_db_blocker: Any) -> Iterator[RunningGateway]:
    with django_db_blocker.unblock(), running_gateway() as gw:
        yield gw


@pytest.fixture
def gw(servers: RunningGateway, owner: Any) -> RunningGateway:
    """The servers, with owner's workspace given all three provider secrets on the fake."""
    servers.give_secrets(owner.workspace)
    servers.reset()
    return servers
