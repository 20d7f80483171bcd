"""Budget alerts: thresholds claimed once per window and subject across processes (two spend
gates stand for two gateway processes), delivered at least once with retries to a local
webhook receiver (signed), Slack and e-mail; the next day's window alerts again; channels
configured through the services and the CLI, webhook URLs behind the outbound-host guard."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
import time
from typing import Any

import pytest
import time_machine
from asgiref.sync import async_to_sync
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command

from devtools.webhook_receiver import webhook_receiver
from hotpath.errors import PolicyBlocked
from orgs.models import AuditLogEntry
from policies.spend import alerts
from policies.spend.gate import SpendGate
from policies.spend.models import SpendAlert, SpendAlertDelivery, SpendPolicy
from policies.spend.services import (
    alert_channel_add,
    alert_thresholds_set,
    parse_thresholds,
)
from policies.tests.spend_helpers import make_call, policy, run_call, store_mode  # noqa: F401

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("store_mode"),
]
DAY1 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def fast_retries(settings: Any) -> None:
    settings.GATEWAY_ALERT_RETRY_SECONDS = 0.2
    # Delivered in-process whatever the counter store (the Celery worker's turn is in
    # test_spend_alerts_served.py).
    settings.CELERY_TASK_ALWAYS_EAGER = True


def verify(received: Any, secret: str) -> dict[str, Any]:
    """The receiver's check: the signature over "<timestamp>.<body>" under the secret."""
    timestamp = received.headers["x-gateway-timestamp"]
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + received.body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(received.headers["x-gateway-signature"], f"sha256={expected}")
    return json.loads(received.body)


def calls(gates: list[SpendGate], persona: Any, n: int) -> int:
    """Up to n $1 calls alternating between the gates; how many were refused."""

    async def go() -> int:
        refused = 0
        for i in range(n):
            try:
                await run_call(gates[i % len(gates)], make_call(persona))
            except PolicyBlocked:
                refused += 1
        for gate in gates:
            await gate.idle()
        return refused

    return async_to_sync(go)()


@pytest.mark.parametrize("fail_first", [0, 1])
def test_each_threshold_alerts_once_per_window_across_processes_and_again_the_next_day(
    owner: Any, fail_first: int
) -> None:
    with time_machine.travel(DAY1, tick=True), webhook_receiver(fail_first=fail_first) as hook:
        cap = policy(owner, "team cap", "organization", {"daily": "10"})
        alert_thresholds_set(policy=cap, thresholds="50,80,100")
        _, secret = alert_channel_add(policy=cap, kind="webhook", target=hook.url)
        gates = [SpendGate(), SpendGate()]  # two gateway processes
        assert calls(gates, owner, 14) == 4  # 10 admitted ($10 = the cap), 4 refused
        posts = hook.wait_for(3, timeout=60)
        bodies = [verify(p, secret) for p in posts]
        assert sorted(b["threshold_percent"] for b in bodies) == [50, 80, 100]
        assert len(hook.failed) == fail_first
        assert len({p.headers["x-gateway-delivery"] for p in posts}) == 3
        assert {b["window"] for b in bodies} == {"daily"}
        assert {b["window_start"] for b in bodies} == {"2026-06-01T00:00:00+00:00"}
        assert {b["limit_usd"] for b in bodies} == {"10.000000"}
        assert SpendAlert.objects.count() == 3
        # The receiver has the posts before the deliverer has read its answer and noted it.
        deadline = time.monotonic() + 30
        while (
            set(SpendAlertDelivery.objects.values_list("status", flat=True)) != {"delivered"}
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        assert set(SpendAlertDelivery.objects.values_list("status", flat=True)) == {"delivered"}
        assert sum(SpendAlertDelivery.objects.values_list("attempts", flat=True)) == 3 + fail_first

    with time_machine.travel(DAY1 + dt.timedelta(days=1), tick=True), webhook_receiver() as hook2:
        cap.alert_channels.update(target=hook2.url)
        assert calls(gates, owner, 5) == 0  # a new window: $5 of $10
        (post,) = hook2.wait_for(1, timeout=60)
        body = verify(post, secret)
        assert body["threshold_percent"] == 50
        assert body["window_start"] == "2026-06-02T00:00:00+00:00"
        assert SpendAlert.objects.count() == 4


def test_a_claim_made_by_many_processes_at_once_is_one_alert(owner: Any) -> None:
    cap = policy(owner, "team cap", "organization", {"daily": "10"})
    alert_thresholds_set(policy=cap, thresholds=[100])
    start = DAY1.replace(hour=0)
    claim = (cap.pk, "", "daily", start, 100, 10_000_000, 10_000_000)
    barrier = threading.Barrier(6)
    created: list[list[int]] = []

    def claimer() -> None:
        from django.db import connection

        barrier.wait()
        try:
            created.append(alerts.alerts_claim([claim]))
        finally:
            connection.close()

    with webhook_receiver() as hook:
        alert_channel_add(policy=cap, kind="webhook", target=hook.url)
        threads = [threading.Thread(target=claimer) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(len(c) for c in created) == [0, 0, 0, 0, 0, 1]
        assert len(hook.wait_for(1, timeout=60)) == 1
    assert SpendAlert.objects.count() == 1


def test_slack_and_email_channels_get_the_alert_in_words(owner: Any) -> None:
    cap = policy(owner, "team cap", "organization", {"daily": "10"})
    alert_thresholds_set(policy=cap, thresholds="50")
    with webhook_receiver() as slack:
        channel, secret = alert_channel_add(policy=cap, kind="slack", target=slack.url)
        assert secret is None and slack.url not in channel.target  # the URL is the credential
        alert_channel_add(policy=cap, kind="email", target="ops@acme.test")
        gates = [SpendGate()]
        calls(gates, owner, 5)
        (post,) = slack.wait_for(1, timeout=60)
        assert "reached 50% of its daily limit" in json.loads(post.body)["text"]
        deadline = dt.datetime.now() + dt.timedelta(seconds=60)
        while not mail.outbox and dt.datetime.now() < deadline:
            threading.Event().wait(0.05)
        (message,) = mail.outbox
        assert message.to == ["ops@acme.test"] and "team cap" in message.subject


def test_a_receiver_that_never_answers_is_given_up_after_the_last_attempt(
    owner: Any, settings: Any
) -> None:
    settings.GATEWAY_ALERT_MAX_ATTEMPTS = 3
    cap = policy(owner, "team cap", "organization", {"daily": "10"})
    alert_thresholds_set(policy=cap, thresholds="50")
    with webhook_receiver(fail_first=100) as hook:
        alert_channel_add(policy=cap, kind="webhook", target=hook.url)
        calls([SpendGate()], owner, 5)
        deadline = dt.datetime.now() + dt.timedelta(seconds=60)
        while dt.datetime.now() < deadline:
            delivery = SpendAlertDelivery.objects.get()
            if delivery.status == "failed":
                break
            threading.Event().wait(0.05)
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("failed", 3, "HTTP 500")
    assert len(hook.failed) == 3


def test_configuration_is_validated_guarded_and_audited_with_the_secret_shown_once(
    owner: Any, settings: Any
) -> None:
    settings.GATEWAY_UPSTREAM_ALLOWED_HOSTS = ["hooks.example.com"]
    assert parse_thresholds("80, 50,100%,50") == [50, 80, 100]
    for bad in ("abc", "0", "5000"):
        with pytest.raises(ValidationError):
            parse_thresholds(bad)
    cap = policy(owner, "team cap", "organization", {"daily": "10"})
    with pytest.raises(ValidationError, match="only a superuser"):
        alert_channel_add(
            policy=cap, kind="webhook", target="http://169.254.169.254/latest", actor=owner.user
        )
    with pytest.raises(ValidationError):
        alert_channel_add(policy=cap, kind="email", target="not an address", actor=owner.user)
    channel, secret = alert_channel_add(
        policy=cap, kind="webhook", target="https://hooks.example.com/gw", actor=owner.user
    )
    assert secret and secret.startswith("whsec_")
    assert (
        alert_channel_add(policy=cap, kind="webhook", target="https://hooks.example.com/gw")[1]
        is None
    )  # the same channel again: the secret is not shown twice
    assert secret not in channel.secret_ciphertext
    audit = json.dumps(list(AuditLogEntry.objects.values("before", "after")))
    assert "hooks.example.com" in audit and secret not in audit


def test_the_cli_sets_thresholds_and_channels_and_prints_the_secret_once(owner: Any) -> None:
    from io import StringIO

    out = StringIO()
    call_command(
        "gateway_spend_limit",
        *("--scope", "organization", "--subject", "acme", "--window", "daily", "--usd", "20"),
        *("--alert-at", "50,80,100", "--alert-webhook", "https://hooks.example.com/a"),
        *("--alert-email", "ops@acme.test", "--alert-email", "cfo@acme.test"),
        stdout=out,
    )
    text = out.getvalue()
    cap = SpendPolicy.objects.get(organization=owner.organization)
    assert cap.alert_thresholds == [50, 80, 100]
    assert sorted(cap.alert_channels.values_list("kind", "target")) == [
        ("email", "cfo@acme.test"),
        ("email", "ops@acme.test"),
        ("webhook", "https://hooks.example.com/a"),
    ]
    assert "budget alerts at 50%, 80%, 100%" in text
    assert text.count("whsec_") == 1
    again = StringIO()
    call_command(
        "gateway_spend_limit",
        *("--scope", "organization", "--subject", "acme", "--window", "daily", "--usd", "20"),
        *("--alert-webhook", "https://hooks.example.com/a"),
        stdout=again,
    )
    assert "whsec_" not in again.getvalue()
