"""Existing databases move forward with their data: the per-day usage totals that moved from
the api app to tracing, and the policies now built on one abstract subject model."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [
    ("api", "0002_usagerecord_summary_index"),
    ("tracing", "0004_runs_filter_covering_indexes"),
    ("policies", "0002_redaction"),
]
AFTER = [
    ("api", "0003_usage_daily_to_tracing"),
    ("tracing", "0005_usage_daily_from_api"),
    ("policies", "0003_policy_subject"),
]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_database_from_before_the_move_keeps_its_usage_totals_and_policies() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    org = old.get_model("orgs", "Organization").objects.create(slug="migr", name="Migr")
    ws = old.get_model("orgs", "Workspace").objects.create(organization=org, slug="w", name="W")
    old.get_model("api", "UsageDaily").objects.create(
        day=dt.date(2026, 11, 30),
        organization_id=org.pk,
        workspace_id=ws.pk,
        model="gpt-4o-mini",
        calls=7,
        input_tokens=700,
        cost_usd=Decimal("0.0123"),
    )
    old.get_model("api", "UsageRollupState").objects.create(rolled_through=dt.date(2026, 12, 1))
    spend = old.get_model("policies", "SpendPolicy").objects.create(
        organization=org, name="cap", scope="workspace", workspace=ws
    )
    old.get_model("policies", "RedactionPolicy").objects.create(
        organization=org, name="red", scope="organization"
    )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    (daily,) = new.get_model("tracing", "UsageDaily").objects.all()
    assert (daily.calls, daily.input_tokens, daily.cost_usd) == (7, 700, Decimal("0.0123"))
    assert daily.workspace_id == ws.pk and daily.model == "gpt-4o-mini"
    assert new.get_model("tracing", "UsageRollupState").objects.get().rolled_through == dt.date(
        2026, 12, 1
    )
    assert "tracing_usagedaily" in connection.introspection.table_names()
    assert "api_usagedaily" not in connection.introspection.table_names()
    moved = new.get_model("policies", "SpendPolicy").objects.get(pk=spend.pk)
    assert (moved.scope, moved.workspace_id, moved.organization_id) == ("workspace", ws.pk, org.pk)
    assert new.get_model("policies", "RedactionPolicy").objects.get().scope == "organization"

    executor = MigrationExecutor(connection)  # back to the latest schema for the other tests
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_new_pii_rules_join_the_policies_that_had_every_pii_rule() -> None:
    before = [("policies", "0009_model_access_azure_custom")]
    after = [("policies", "0010_redaction_personal_rules")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    org = old.get_model("orgs", "Organization").objects.create(slug="rules", name="Rules")
    every = [
        "email", "phone", "us_ssn", "national_id", "credit_card", "iban", "ip_address",
        "person", "street_address", "location",
    ]  # fmt: skip
    policy = old.get_model("policies", "RedactionPolicy")
    full = policy.objects.create(
        organization=org, name="all", scope="organization", pii_rules=every
    )
    narrowed = policy.objects.create(
        organization=org,
        name="narrow",
        scope="workspace",
        workspace=old.get_model("orgs", "Workspace").objects.create(
            organization=org, slug="w", name="W"
        ),
        pii_rules=["email", "phone"],
    )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    new = executor.loader.project_state(after).apps.get_model("policies", "RedactionPolicy")
    rules = new.objects.get(pk=full.pk).pii_rules
    assert {"bank_account", "date_of_birth", "crypto_wallet"} <= set(rules)
    assert set(every) <= set(rules)
    assert new.objects.get(pk=narrowed.pk).pii_rules == ["email", "phone"]

    executor = MigrationExecutor(connection)  # back to the latest schema for the other tests
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_rate_limit_counters_get_their_level_and_oldest_entry_from_their_log() -> None:
    before = [("policies", "0010_redaction_personal_rules")]
    after = [("policies", "0011_ratelimit_counter_level")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    org = old.get_model("orgs", "Organization").objects.create(slug="rlm", name="Rlm")
    policy = old.get_model("policies", "RateLimitPolicy").objects.create(
        organization=org, name="rpm", scope="organization"
    )
    counter = old.get_model("policies", "RateLimitCounter")
    busy = counter.objects.create(policy=policy, member="", window="minute", metric="tokens")
    idle = counter.objects.create(policy=policy, member="", window="minute", metric="requests")
    entry = old.get_model("policies", "RateLimitEntry")
    for at_ms, amount in ((2_000, 30), (1_000, 12), (3_000, 0)):
        entry.objects.create(counter=busy, reservation_id=f"r{at_ms}", at_ms=at_ms, amount=amount)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    new = executor.loader.project_state(after).apps.get_model("policies", "RateLimitCounter")
    assert (new.objects.get(pk=busy.pk).level, new.objects.get(pk=busy.pk).oldest_ms) == (
        42,
        1_000,
    )
    assert (new.objects.get(pk=idle.pk).level, new.objects.get(pk=idle.pk).oldest_ms) == (0, None)

    executor = MigrationExecutor(connection)  # back to the latest schema for the other tests
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_runs_and_usage_are_converted_to_time_partitions_and_back() -> None:
    import uuid

    from tracing import partitions

    before = [("tracing", "0009_usage_org_index_status")]
    after = [("tracing", "0010_partition_runs_and_usage")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    org = old.get_model("orgs", "Organization").objects.create(slug="part", name="Part")
    ws = old.get_model("orgs", "Workspace").objects.create(organization=org, slug="w", name="W")
    project = old.get_model("tracing", "TracingProject").objects.create(workspace=ws, name="p")
    now = dt.datetime.now(tz=dt.UTC)
    ages = [0, 1, 3, 90, 700]  # today, recent days, and rows older than any partition made
    run_ids = []
    for days in ages:
        run_id = uuid.uuid4()
        started = now - dt.timedelta(days=days)
        old.get_model("tracing", "Run").objects.create(
            run_id=run_id,
            trace_id=run_id.hex,
            project=project,
            workspace_id=ws.pk,
            organization_id=org.pk,
            started_at=started,
            status="success",
            cost_usd=Decimal("0.5"),
        )
        old.get_model("tracing", "UsageRecord").objects.create(
            run_id=run_id,
            started_at=started,
            workspace_id=ws.pk,
            organization_id=org.pk,
            status="success",
            cost_usd=Decimal("0.5"),
        )
        run_ids.append(run_id)
    ids = sorted(old.get_model("tracing", "Run").objects.values_list("id", flat=True))

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    assert partitions.is_partitioned("tracing_run")
    assert partitions.is_partitioned("tracing_usagerecord")
    new = executor.loader.project_state(after).apps
    Run = new.get_model("tracing", "Run")
    assert sorted(Run.objects.values_list("id", flat=True)) == ids
    assert {r for r in Run.objects.values_list("run_id", flat=True)} == set(run_ids)
    assert new.get_model("tracing", "UsageRecord").objects.count() == len(ages)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tracing_run_default")
        assert cursor.fetchone()[0] == 2  # 90 and 700 days ago: before the partitions made
    fresh = Run.objects.create(
        run_id=uuid.uuid4(),
        trace_id="t",
        project_id=project.pk,
        started_at=now,
        status="success",
    )
    assert fresh.id > max(ids)  # the identity carries on after the copied rows

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(before)
    assert not partitions.is_partitioned("tracing_run")
    assert not partitions.is_partitioned("tracing_usagerecord")
    assert old.get_model("tracing", "Run").objects.count() == len(ages) + 1
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "tracing_run")
    assert constraints["tracing_run_run_id_key"]["columns"] == ["run_id"]

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
