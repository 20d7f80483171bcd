"""The operator's side of the cluster test (devtools/cluster.py): a separate Django process on
the cluster's database and Redis that sets the installation up, makes changes through the real
management commands, and reads what was stored.

    python -m devtools.cluster_driver serve      → one JSON answer per stdin line

Lines are `NAME JSON`:
    seed {"fake_url": …, "tag": …}        organizations, keys, the cap, the priced model
    change {"name": "revoke", …}           a live change (devtools.live_changes_driver.change)
    charged {"org": id, "policy": id}      the live spend counter: spent and still reserved
    stored {"org": id, "traces": [...]}    runs stored per trace id (after draining nothing:
                                            the Celery workers drain), and the usage total
The database and Redis come from the environment, as for any `manage.py` command.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from decimal import Decimal
from typing import Any

MODEL = "cluster-exact"
# Input free, output $100 per million tokens, and every call asks max_tokens=10 and gets exactly
# 10 tokens from the fake provider: each call reserves and costs exactly $0.001.
CALL_USD = Decimal("0.001")
KEYS_PER_ORG = 4


def _org(tag: str, name: str, fake_url: str) -> dict[str, Any]:
    from orgs import services
    from orgs.models import Role
    from secrets_vault.services import secret_set

    org = services.organization_upsert(
        slug=f"cluster-{tag}-{name}", plan="enterprise", llm_gateway_enabled=True
    )
    ws = services.workspace_upsert(organization=org, slug="main")
    role = Role.objects.get(builtin=True, name="WORKSPACE_ADMIN")
    keys = [
        services.api_key_create(organization=org, workspace=ws, role=role, name=f"{name} {i}")
        for i in range(KEYS_PER_ORG)
    ]
    secret_set(workspace=ws, name="OPENAI_API_KEY", value=f"sk-cluster-{tag}", base_url=fake_url)
    return {
        "org": org.pk,
        "slug": org.slug,
        "workspace": f"{org.slug}/main",
        "keys": [k.plaintext for k in keys],
        "key_prefixes": [k.api_key.display_prefix for k in keys],
    }


def seed(fake_url: str, tag: str, cap_usd: str) -> dict[str, Any]:
    """The priced model; `spend` (a daily cap of cap_usd on the organization), `traffic` (a cap
    no test reaches, so every call goes through the spend counters in Redis) and `change` (whose
    first key is revoked mid-traffic)."""
    from policies.spend.services import spend_policy_upsert
    from pricing.models import ModelPrice

    ModelPrice.objects.update_or_create(
        model=MODEL,
        defaults={
            "provider": "openai",
            "input_per_mtok": Decimal(0),
            "output_per_mtok": Decimal(100),
            "cache_read_per_mtok": Decimal(0),
            "cache_write_per_mtok": Decimal(0),
            "max_output_tokens": 10,
            "price_date": dt.date.today(),
        },
    )
    out: dict[str, Any] = {}
    for name, cap in (("spend", Decimal(cap_usd)), ("traffic", Decimal(1000)), ("change", None)):
        org = _org(tag, name, fake_url)
        if cap is not None:
            from orgs.models import Organization

            policy = spend_policy_upsert(
                organization=Organization.objects.get(pk=org["org"]),
                name=f"{name} cap",
                scope="organization",
                windows={"daily": cap},
            )
            org["policy"] = policy.pk
        out[name] = org
    return out


def charged(org: int, policy: int) -> dict[str, float]:
    """Spent and still reserved on the policy's daily counter (Redis), in dollars."""
    from django.conf import settings
    from django.utils import timezone

    from hotpath.redis_client import sync_client
    from policies.spend.store_redis import Counter
    from policies.spend.windows import window_start

    key = Counter(org, policy, "", "daily", window_start("daily", timezone.now()), 0, 0).key
    client = sync_client(settings.REDIS_URL)
    try:
        spent, reserved = client.hmget(key, "spent", "reserved")
    finally:
        client.close()
    return {"spent": int(spent or 0) / 1e6, "reserved": int(reserved or 0) / 1e6}


def stored(org: int, traces: list[str]) -> dict[str, Any]:
    """How many runs each trace id has (0: lost, 2+: stored twice), the organization's runs
    and usage rows, and their total cost."""
    from django.db.models import Count, Sum

    from tracing.models import Run, UsageRecord

    counts = dict(
        Run.objects.filter(organization_id=org, trace_id__in=traces)
        .values_list("trace_id")
        .annotate(n=Count("id"))
        .values_list("trace_id", "n")
    )
    usage = UsageRecord.objects.filter(organization_id=org).aggregate(
        n=Count("id"), cost=Sum("cost_usd")
    )
    return {
        "per_trace": {t: counts.get(t, 0) for t in traces},
        "runs": Run.objects.filter(organization_id=org).count(),
        "usage_rows": usage["n"],
        "usage_cost": float(usage["cost"] or 0),
    }


def _say(answer: object) -> None:
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_site.settings")
    import django

    django.setup()
    from devtools.live_changes_driver import change

    _say({"ready": True})
    for line in sys.stdin:
        name, _, raw = line.strip().partition(" ")
        args = json.loads(raw or "{}")
        try:
            if name == "seed":
                _say(seed(args["fake_url"], args["tag"], args["cap_usd"]))
            elif name == "change":
                committed_at = change(args["name"], args)
                _say({"committed_at": committed_at})
            elif name == "charged":
                _say(charged(args["org"], args["policy"]))
            elif name == "stored":
                _say(stored(args["org"], args["traces"]))
            else:
                _say({"error": f"unknown request {name!r}"})
        except Exception as exc:  # reported to the harness, which fails
            _say({"error": f"{type(exc).__name__}: {exc}"})
        finally:
            from django.db import connection

            connection.close()
        time.sleep(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
