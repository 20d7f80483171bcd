"""The cluster test (devtools/cluster.py): 3 gateway nodes of 2 workers, 2 Celery workers and beat,
one PostgreSQL database, Redis as one server and as a Redis Cluster of 3 masters, all started by
the test on loopback. Spend caps exact, changes applied on every node within 100 ms, a killed
node losing only the calls in its hands, a Redis restart answered by 503s and recovered from, no
run lost. `make cluster-test` runs it alone and prints its figures; CI runs it with the suite.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

from devtools import cluster

pytestmark = [pytest.mark.cluster, pytest.mark.postgres, pytest.mark.redis_cluster]


def test_promises_hold_across_nodes_with_redis_single_and_clustered(capsys: Any) -> None:
    results = cluster.run(
        ["single", "cluster"],
        cluster.Scale(),
        os.environ.get("CLUSTER_DATABASE_URL") or None,
    )
    with capsys.disabled():
        sys.stdout.write("\n" + "\n".join(cluster.report(r) for r in results) + "\n")
    for result in results:
        f = result.figures
        assert f["spend"]["admitted"] == cluster.CAP_CALLS, result.problems
        assert f["spend"]["overshoot_usd"] == 0.0
        assert f["change"]["late_calls"] == 0
        assert f["stored"]["stored_twice"] == 0
        assert f["redis"]["refused_503"] > 0
        assert result.problems == [], cluster.report(result)
