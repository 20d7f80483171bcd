"""The change signal: a change committed anywhere is seen by every gateway process's poll."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from hotpath import changes

ROOT = Path(__file__).resolve().parents[2]


def _wait_for(signal: changes.ChangeSignal, topic: str, before: int, seconds: float = 2.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        signal.poll()
        if signal.version(topic) != before:
            return True
        time.sleep(0.005)
    return False


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_change_committed_in_this_process_is_seen_at_once() -> None:
    signal = changes.signal()
    before = signal.version("spend")
    changes.announce("spend")  # autocommit: at once
    assert signal.version("spend") == before + 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_rolled_back_change_is_never_announced() -> None:
    signal = changes.signal()
    before = signal.version("redaction")
    with pytest.raises(RuntimeError), transaction.atomic():
        changes.announce("redaction")
        raise RuntimeError("rolled back")
    signal.poll()
    assert signal.version("redaction") == before


@pytest.mark.django_db
def test_many_rows_in_one_transaction_announce_once(
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks() as hooks, transaction.atomic():
        for _ in range(100):
            changes.announce("keys")
        changes.announce("secrets")
    assert len(hooks) == 2


def test_another_process_on_this_host_is_seen_on_the_very_next_poll(
    tmp_path: Path, settings: Any
) -> None:
    """The generation file: no lag at all between the writer returning and the next poll."""
    settings.GATEWAY_CHANGES_FILE = str(tmp_path / "changes")
    settings.REDIS_URL = ""
    signal = changes.ChangeSignal()
    signal.poll()
    for round_ in range(3):
        before = signal.version("prices")
        script = (
            "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', "
            "'gateway_site.settings'); django.setup(); from hotpath import changes; "
            "changes.signal().committed('prices')"
        )
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env={
                **os.environ,
                "GATEWAY_CHANGES_FILE": settings.GATEWAY_CHANGES_FILE,
                "REDIS_URL": "",
            },
            check=True,
            timeout=60,
        )
        signal.poll()
        assert signal.version("prices") == before + 1, f"round {round_}"
    untouched = signal.version("spend")
    signal.poll()
    assert signal.version("spend") == untouched


@pytest.mark.redis
@pytest.mark.parametrize(
    "mode", ["server", pytest.param("cluster", marks=pytest.mark.redis_cluster)]
)
def test_a_message_on_the_redis_channel_is_seen_and_a_lost_subscription_reloads_everything(
    settings: Any, request: Any, mode: str
) -> None:
    from hotpath.redis_client import sync_client

    if mode == "cluster":  # PUBLISH on any node reaches a subscriber on any other
        settings.REDIS_URL = request.getfixturevalue("redis_cluster").url
    client = sync_client(settings.REDIS_URL)
    signal = changes.ChangeSignal()
    signal.watch()
    deadline = time.monotonic() + 5
    while not signal.healthy and time.monotonic() < deadline:
        time.sleep(0.01)
    assert signal.healthy
    channel = changes.redis_channel(settings.REDIS_URL)
    # a cluster's nodes each count their own subscribers
    nodes = [n.redis_connection for n in client.get_primaries()] if mode == "cluster" else [client]
    assert sum(dict(n.pubsub_numsub(channel))[channel.encode()] for n in nodes) >= 1
    before = signal.version("routes")
    client.publish(channel, "routes")
    assert _wait_for(signal, "routes", before)

    # The subscription is killed (Redis restarted, a network cut): every topic counts as
    # changed, and the subscription comes back by itself.
    name = f"gateway-changes-{os.getpid()}"
    spend_before = signal.version("spend")
    for node in nodes:
        for info in node.client_list(_type="pubsub"):
            if info.get("name") == name:
                node.client_kill_filter(_id=info["id"])
    assert _wait_for(signal, "spend", spend_before)
    deadline = time.monotonic() + 5
    while not signal.healthy and time.monotonic() < deadline:
        signal.poll()
        time.sleep(0.01)
    assert signal.healthy
    before = signal.version("routes")
    client.publish(channel, "routes")
    assert _wait_for(signal, "routes", before)
    signal.close()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_postgres_notifications_reach_a_listener_when_the_writer_commits(settings: Any) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    settings.REDIS_URL = ""
    signal = changes.ChangeSignal()
    signal.watch()
    deadline = time.monotonic() + 5
    while not signal.healthy and time.monotonic() < deadline:
        time.sleep(0.01)
    assert signal.healthy
    try:
        before = signal.version("modelaccess")
        with transaction.atomic():
            changes.announce("modelaccess")
            time.sleep(0.05)
            signal.poll()
            assert signal.version("modelaccess") == before  # not before the commit
        assert _wait_for(signal, "modelaccess", before)
    finally:
        signal.close()  # its connection would keep the test database from being dropped
