"""The spend gate through its public seam (hotpath.gates contract): ProxyCall in, PolicyBlocked
or a reservation out; against the real Redis script and the database counters."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
import time_machine
from asgiref.sync import sync_to_async

from hotpath.errors import PolicyBlocked
from policies.spend.gate import SpendGate, SpendUnavailable
from policies.spend.models import SpendPolicy
from policies.spend.selectors import current_spend
from policies.tests.spend_helpers import (  # noqa: F401
    ONE_DOLLAR_BODY,
    drive,
    make_call,
    policy,
    run_call,
    spend,
    store_mode,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("store_mode")]
UTC = dt.UTC


@pytest.fixture
def subjects(owner: Any) -> dict[str, dict[str, Any]]:
    return {
        "organization": {},
        "workspace": {"workspace": owner.workspace},
        "api_key": {"api_key": owner.key},
        "user": {"user": owner.user},
    }


@pytest.mark.parametrize("scope", ["organization", "workspace", "api_key", "user"])
@drive
async def test_each_scope_blocks_at_its_cap(owner: Any, subjects: Any, scope: str) -> None:
    await sync_to_async(policy)(owner, f"{scope} cap", scope, {"daily": "3"}, **subjects[scope])
    gate = SpendGate()
    assert await spend(gate, owner, 3) == 3
    call = make_call(owner)
    with pytest.raises(PolicyBlocked) as blocked:
        await gate.before(call)
    await gate.after(call)
    assert blocked.value.status == 402
    assert blocked.value.message == f"request blocked by gateway policies: {scope} cap"
    assert blocked.value.metadata["scopes"] == [scope]
    assert blocked.value.metadata["windows"] == ["daily"]
    violated = call.record.policy_results["violated"]
    assert [v["name"] for v in violated] == [f"{scope} cap"]


BOUNDARIES = [
    (
        "hourly",
        dt.datetime(2026, 3, 4, 10, 59, 30, tzinfo=UTC),
        dt.datetime(2026, 3, 4, 11, 0, 1, tzinfo=UTC),
    ),
    (
        "daily",
        dt.datetime(2026, 3, 4, 23, 59, 30, tzinfo=UTC),
        dt.datetime(2026, 3, 5, 0, 0, 1, tzinfo=UTC),
    ),
    # 2026-03-08 is a Sunday: the weekly window turns on Monday 00:00 UTC.
    (
        "weekly",
        dt.datetime(2026, 3, 8, 23, 59, 30, tzinfo=UTC),
        dt.datetime(2026, 3, 9, 0, 0, 1, tzinfo=UTC),
    ),
    (
        "monthly",
        dt.datetime(2026, 3, 31, 23, 59, 30, tzinfo=UTC),
        dt.datetime(2026, 4, 1, 0, 0, 1, tzinfo=UTC),
    ),
]


@pytest.mark.parametrize(("window", "before_edge", "after_edge"), BOUNDARIES)
@drive
async def test_each_window_resets_at_its_boundary(
    owner: Any, window: str, before_edge: dt.datetime, after_edge: dt.datetime
) -> None:
    await sync_to_async(policy)(
        owner, "team", "workspace", {window: "2"}, workspace=owner.workspace
    )
    gate = SpendGate()
    with time_machine.travel(before_edge - dt.timedelta(minutes=20), tick=False):
        assert await spend(gate, owner, 2) == 2
    with time_machine.travel(before_edge, tick=False):
        assert await spend(gate, owner, 1) == 0  # same window: still blocked
    with time_machine.travel(after_edge, tick=False):
        assert await spend(gate, owner, 3) == 2  # a new window starts from zero


@drive
async def test_a_narrower_higher_cap_does_not_loosen_a_broader_one(owner: Any) -> None:
    await sync_to_async(policy)(owner, "org cap", "organization", {"monthly": "2"})
    await sync_to_async(policy)(owner, "my key", "api_key", {"monthly": "10"}, api_key=owner.key)
    gate = SpendGate()
    assert await spend(gate, owner, 2) == 2
    with pytest.raises(PolicyBlocked, match=r"request blocked by gateway policies: org cap$"):
        await gate.before(make_call(owner))


@drive
async def test_every_window_of_a_policy_is_enforced(owner: Any) -> None:
    await sync_to_async(policy)(
        owner, "two windows", "organization", {"hourly": "1", "monthly": "5"}
    )
    gate = SpendGate()
    t0 = dt.datetime(2026, 5, 6, 8, 10, tzinfo=UTC)
    for hour in range(7):
        with time_machine.travel(t0 + dt.timedelta(hours=hour), tick=False):
            passed = await spend(gate, owner, 2)
            assert passed == (1 if hour < 5 else 0)
    with (
        time_machine.travel(t0 + dt.timedelta(hours=8), tick=False),
        pytest.raises(PolicyBlocked) as exc,
    ):
        await gate.before(make_call(owner))
    assert exc.value.metadata["windows"] == ["monthly"]


@drive
async def test_default_per_member_caps_each_member_separately(owner: Any, member: Any) -> None:
    from orgs.models import Role
    from orgs.services import api_key_create

    def setup() -> Any:
        role = Role.objects.get(builtin=True, name="WORKSPACE_ADMIN")
        second = api_key_create(
            organization=owner.organization, workspace=owner.workspace, role=role
        ).api_key
        policy(
            owner,
            "each key",
            "api_key",
            {"daily": "2"},
            kind="default_per_member",
            workspace=owner.workspace,
        )
        return second

    second = await sync_to_async(setup)()
    gate = SpendGate()
    assert await spend(gate, owner, 5) == 2
    assert await spend(gate, owner, 5, key=second) == 2
    blocked = make_call(owner)
    with pytest.raises(PolicyBlocked, match="each key") as exc:
        await gate.before(blocked)
    assert exc.value.metadata["violations"][0]["member"] == f"key:{owner.key.pk}"

    from policies.spend.models import SpendPolicyMember

    await asyncio.sleep(0.05)  # materialised off the request path
    members = await sync_to_async(
        lambda: sorted(SpendPolicyMember.objects.values_list("member", flat=True))
    )()
    assert members == sorted([f"key:{owner.key.pk}", f"key:{second.pk}"])


@drive
async def test_a_members_own_policy_raises_its_cap_but_not_a_broader_one(owner: Any) -> None:
    def setup() -> None:
        policy(owner, "each key", "api_key", {"daily": "1"}, kind="default_per_member")
        policy(owner, "big key", "api_key", {"daily": "3"}, api_key=owner.key)
        policy(owner, "workspace", "workspace", {"daily": "4"}, workspace=owner.workspace)

    await sync_to_async(setup)()
    gate = SpendGate()
    assert await spend(gate, owner, 5) == 3  # own cap 3 replaces the default of 1
    await sync_to_async(policy)(owner, "big key", "api_key", {"daily": "9"}, api_key=owner.key)
    gate = SpendGate()  # (a fresh snapshot; invalidation is tested below)
    assert await spend(gate, owner, 5) == 1  # the workspace cap of 4 still holds
    with pytest.raises(PolicyBlocked, match=r"policies: workspace$"):
        await gate.before(make_call(owner))


@drive
async def test_a_users_cap_counts_their_tokens_and_assigned_keys(owner: Any) -> None:
    from orgs.models import Role
    from orgs.services import api_key_create

    def setup() -> tuple[Any, Any, Any]:
        role = Role.objects.get(builtin=True, name="WORKSPACE_ADMIN")
        assigned = api_key_create(
            organization=owner.organization, workspace=owner.workspace, role=role, user=owner.user
        ).api_key
        personal = api_key_create(
            organization=owner.organization,
            workspace=owner.workspace,
            kind="personal",
            user=owner.user,
        ).api_key
        unassigned = api_key_create(
            organization=owner.organization, workspace=owner.workspace, role=role
        ).api_key
        policy(owner, "alice", "user", {"daily": "3"}, user=owner.user)
        return assigned, personal, unassigned

    assigned, personal, unassigned = await sync_to_async(setup)()
    gate = SpendGate()
    assert await spend(gate, owner, 1) == 1  # alice's own key (assigned to her)
    assert await spend(gate, owner, 1, key=personal) == 1  # her personal token
    assert await spend(gate, owner, 5, key=assigned) == 1  # together: $3
    assert await spend(gate, owner, 3, key=unassigned) == 3  # not hers: not counted


@pytest.mark.parametrize("n", [60])
@drive
async def test_concurrent_calls_never_overshoot(owner: Any, n: int) -> None:
    await sync_to_async(policy)(owner, "org", "organization", {"daily": "7"})
    gate = SpendGate()
    calls = [make_call(owner) for _ in range(n)]
    results = await asyncio.gather(*(gate.before(c) for c in calls), return_exceptions=True)
    assert sum(r is None for r in results) == 7
    assert all(isinstance(r, PolicyBlocked) for r in results if r is not None), [
        repr(r) for r in results if r is not None and not isinstance(r, PolicyBlocked)
    ][:2]
    for c in calls:
        c.cost_usd = 1.0
    await asyncio.gather(*(gate.after(c) for c in calls))
    assert await spend(gate, owner, 1) == 0


@drive
async def test_the_actual_cost_replaces_the_reservation(owner: Any) -> None:
    await sync_to_async(policy)(owner, "org", "organization", {"daily": "3"})
    gate = SpendGate()
    for _ in range(5):  # each reserves $1 but costs $0.25: 5 x 0.25 = 1.25 spent
        await run_call(gate, make_call(owner), cost=0.25)
    assert await spend(gate, owner, 5) == 1  # $1.75 left: one more $1 reservation fits


@drive
async def test_a_dead_processes_reservation_expires(owner: Any, settings: Any) -> None:
    settings.GATEWAY_SPEND_RESERVATION_TTL = 60.0
    await sync_to_async(policy)(owner, "org", "organization", {"daily": "2"})
    t0 = dt.datetime(2026, 5, 6, 8, 0, tzinfo=UTC)
    with time_machine.travel(t0, tick=False):
        await SpendGate().before(make_call(owner))  # never settled: that gate "died"
        await SpendGate().before(make_call(owner))
        assert await spend(SpendGate(), owner, 1) == 0
    with time_machine.travel(t0 + dt.timedelta(seconds=61), tick=False):
        too_big = make_call(owner, body={**ONE_DOLLAR_BODY, "max_tokens": 500})  # $5
        with pytest.raises(PolicyBlocked):
            await SpendGate().before(too_big)
        # Even that blocked call released the dead reservations: the window shows $0 in use.
        p = await sync_to_async(SpendPolicy.objects.get)(name="org")
        (row,) = await sync_to_async(current_spend)(p)
        assert row["spent_usd"] == 0
        assert await spend(SpendGate(), owner, 3) == 2


@drive
async def test_an_unpriced_model_is_refused_with_a_clear_message(owner: Any) -> None:
    await sync_to_async(policy)(owner, "org", "organization", {"daily": "3"})
    with pytest.raises(PolicyBlocked) as exc:
        await SpendGate().before(make_call(owner, price=None))
    assert exc.value.status == 402
    assert exc.value.message.startswith(
        "request blocked by gateway policies: org (model 'gpt-test' has no price"
    )


@drive
async def test_an_unpriced_model_is_charged_the_fallback_price(owner: Any) -> None:
    from decimal import Decimal

    from policies.spend.models import SpendPolicy

    def setup() -> None:
        p = policy(owner, "org", "organization", {"daily": "3"})
        SpendPolicy.objects.filter(pk=p.pk).update(
            unpriced_models="fallback",
            fallback_input_per_mtok=Decimal(0),
            fallback_output_per_mtok=Decimal(10_000),
        )

    await sync_to_async(setup)()
    gate = SpendGate()
    assert await spend(gate, owner, 5, price=None) == 3


@drive
async def test_calls_outside_any_policy_and_free_endpoints_pass(owner: Any, outsider: Any) -> None:
    await sync_to_async(policy)(owner, "org", "organization", {"daily": "0"})
    gate = SpendGate()
    assert await spend(gate, outsider, 3) == 3
    count = make_call(owner, endpoint="CountTokens")
    await gate.before(count)
    assert count.record.policy_results["passed"][0]["name"] == "org"
    with pytest.raises(PolicyBlocked):
        await gate.before(make_call(owner))


@drive
async def test_a_disabled_policy_does_not_apply_and_changes_apply_to_the_next_call(
    owner: Any, django_capture_on_commit_callbacks: Any
) -> None:
    await sync_to_async(policy)(owner, "org", "organization", {"daily": "1"})
    gate = SpendGate()
    assert await spend(gate, owner, 2) == 1

    def disable() -> None:
        with django_capture_on_commit_callbacks(execute=True):  # the commit that invalidates
            policy(owner, "org", "organization", {"daily": "1"}, enabled=False)

    await sync_to_async(disable)()
    assert await spend(gate, owner, 2) == 2


@pytest.mark.redis
@drive
async def test_redis_down_fails_closed_by_default_and_open_when_set(
    owner: Any, settings: Any
) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    await sync_to_async(policy)(owner, "org", "organization", {"daily": "5"})
    with pytest.raises(SpendUnavailable) as exc:
        await SpendGate().before(make_call(owner))
    assert exc.value.status == 503
    settings.GATEWAY_SPEND_FAIL_OPEN = True
    call = make_call(owner)
    await SpendGate().before(call)
    assert call.record.policy_results["spend"] == {"unchecked": "spend counters unavailable"}


@drive
async def test_a_customers_cap_holds_while_another_customer_is_served(owner: Any) -> None:
    await sync_to_async(policy)(
        owner,
        "each customer",
        "customer",
        {"daily": "2"},
        kind="default_per_member",
        workspace=owner.workspace,
    )
    gate = SpendGate()

    async def spend_as(customer: str, n: int) -> int:
        for i in range(n):
            call = make_call(owner)
            call.record.customer = customer
            try:
                await run_call(gate, call)
            except PolicyBlocked as exc:
                member = exc.metadata["violations"][0]["member"]
                assert member == f"cust:{owner.workspace.pk}:{customer}"
                return i
        return n

    assert await spend_as("acme", 5) == 2
    assert await spend_as("globex", 5) == 2  # acme at its cap does not stop globex
    assert await spend(gate, owner, 3) == 3  # calls naming no customer are not under it
