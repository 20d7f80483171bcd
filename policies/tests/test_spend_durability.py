"""PostgreSQL holds the truth: usage rows aggregate into per-policy-window totals, and live
counters lost from Redis are rebuilt from them (plus the usage recorded since)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from asgiref.sync import sync_to_async

from policies.spend.gate import SpendGate
from policies.spend.models import SpendPolicy, SpendTotal
from policies.spend.services import spend_totals_aggregate
from policies.tests.spend_helpers import drive, make_call, policy, spend
from tracing.models import UsageRecord

pytestmark = pytest.mark.django_db
UTC = dt.UTC
NOW = dt.datetime(2026, 6, 10, 12, 30, tzinfo=UTC)


def usage(
    persona: Any, cost: str | None, *, key: Any = None, at: dt.datetime = NOW, tokens: int = 0
) -> None:
    key = key or persona.key
    UsageRecord.objects.create(
        run_id=uuid.uuid4(),
        started_at=at,
        organization_id=key.organization_id,
        workspace_id=key.workspace_id,
        key_id=key.pk,
        user_id=key.user_id,
        status="success",
        cost_usd=None if cost is None else Decimal(cost),
        input_tokens=tokens,
        output_tokens=tokens,
        price_missing=cost is None,
    )


def test_it_aggregates_usage_per_policy_window_and_member(owner: Any, outsider: Any) -> None:
    org = policy(owner, "org", "organization", {"daily": "100", "monthly": "900"})
    each = policy(owner, "each key", "api_key", {"daily": "10"}, kind="default_per_member")
    usage(owner, "1.5")
    usage(owner, "2.25", at=NOW - dt.timedelta(hours=1))
    usage(owner, "7", at=NOW - dt.timedelta(days=3))  # same month, another day
    usage(outsider, "50")  # another organization
    with time_machine.travel(NOW + dt.timedelta(minutes=1), tick=False):
        assert spend_totals_aggregate() == 3
        spend_totals_aggregate()  # idempotent: recomputed, not added
    totals = {(t.policy_id, t.member, t.window): t.spent_usd for t in SpendTotal.objects.all()}
    assert totals == {
        (org.pk, "", "daily"): Decimal("3.75"),
        (org.pk, "", "monthly"): Decimal("10.75"),
        (each.pk, f"key:{owner.key.pk}", "daily"): Decimal("3.75"),
    }


def test_the_beat_task_runs_the_aggregation(owner: Any) -> None:
    from django.conf import settings

    from policies.spend.tasks import aggregate_spend_totals

    assert (
        settings.CELERY_BEAT_SCHEDULE["spend-aggregate-totals"]["task"]
        == aggregate_spend_totals.name
    )
    policy(owner, "org", "organization", {"daily": "100"})
    usage(owner, "2")
    with time_machine.travel(NOW + dt.timedelta(minutes=1), tick=False):
        assert aggregate_spend_totals() == 1
    assert SpendTotal.objects.get().spent_usd == Decimal(2)


def test_unpriced_usage_counts_at_the_fallback_price_when_the_policy_charges_one(
    owner: Any,
) -> None:
    p = policy(owner, "org", "organization", {"daily": "100"})
    SpendPolicy.objects.filter(pk=p.pk).update(
        unpriced_models="fallback",
        fallback_input_per_mtok=Decimal(1),
        fallback_output_per_mtok=Decimal(3),
    )
    usage(owner, None, tokens=1_000_000)
    with time_machine.travel(NOW + dt.timedelta(minutes=1), tick=False):
        spend_totals_aggregate()
    assert SpendTotal.objects.get().spent_usd == Decimal(4)


@pytest.mark.redis
@drive
async def test_a_redis_flush_rebuilds_counters_from_postgresql(owner: Any, settings: Any) -> None:
    import redis

    flush = redis.Redis.from_url(settings.REDIS_URL).flushdb
    flush()
    await sync_to_async(policy)(owner, "org", "organization", {"daily": "5"})
    with time_machine.travel(NOW, tick=False):
        await sync_to_async(usage)(owner, "1", at=NOW - dt.timedelta(hours=2))
        await sync_to_async(usage)(owner, "1", at=NOW - dt.timedelta(hours=1))
        await sync_to_async(spend_totals_aggregate)()  # the beat task: $2 aggregated
        await sync_to_async(usage)(owner, "1.5", at=NOW)  # recorded since the aggregation
        flush()  # Redis loses every counter
        gate = SpendGate()
        call = make_call(owner)  # reserves $1: 3.5 + 1 <= 5
        await gate.before(call)
        call.cost_usd = 1.0
        await gate.after(call)
        with pytest.raises(Exception, match="request blocked by gateway policies: org") as exc:
            await gate.before(make_call(owner))  # 4.5 + 1 > 5
    assert exc.value.metadata["violations"][0]["spent_usd"] == 4.5


@pytest.mark.redis
@drive
async def test_a_change_made_by_another_process_applies_to_the_next_call(
    owner: Any, settings: Any
) -> None:
    import redis

    from hotpath import changes

    redis.Redis.from_url(settings.REDIS_URL).flushdb()  # counters of earlier runs' ids
    await sync_to_async(policy)(owner, "org", "organization", {"daily": "1"})
    gate = SpendGate()  # its snapshot subscribes this process to the change signal
    assert await spend(gate, owner, 2) == 1
    for _ in range(50):  # the subscription is made in the background
        await asyncio.sleep(0.02)
        if changes.signal().healthy:
            break
    # Another process disables the policy: its commit publishes on the channel (this test's
    # transaction never commits, so the message is sent by hand, as that process would).
    await sync_to_async(policy)(owner, "org", "organization", {"daily": "1"}, enabled=False)
    signal = changes.signal()
    before = signal.version("spend")
    redis.Redis.from_url(settings.REDIS_URL).publish(
        changes.redis_channel(settings.REDIS_URL), "spend"
    )
    for _ in range(100):  # on another host the message arrives within milliseconds
        signal.poll()  # what the proxy does before every call
        if signal.version("spend") != before:
            break
        await asyncio.sleep(0.01)
    assert await spend(gate, owner, 2) == 2
