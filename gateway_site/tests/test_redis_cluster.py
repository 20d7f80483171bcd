"""REDIS_URL names one Redis server or a Redis Cluster; the cache and Celery's broker work on a
cluster of 3 masters the test session starts (conftest.redis_cluster)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.core.cache.backends.base import DEFAULT_TIMEOUT

from hotpath.redis_client import (
    check_url,
    database_of,
    is_cluster,
    parse_cluster_url,
    sync_client,
)


def test_the_cluster_url_names_its_nodes_and_credentials():
    target = parse_cluster_url("rediss+cluster://gw:p%40ss@r1.internal:7000,r2.internal:7001/")
    assert target.nodes == (("r1.internal", 7000), ("r2.internal", 7001))
    assert (target.ssl, target.username, target.password) == (True, "gw", "p@ss")
    assert target.node_url("r2.internal", 7001) == "rediss://gw:p@ss@r2.internal:7001/0"
    assert parse_cluster_url("redis+cluster://10.0.0.5").nodes == (("10.0.0.5", 6379),)
    assert is_cluster("redis+cluster://a:1") and not is_cluster("redis://a:1/3")
    assert database_of("redis+cluster://a:1") == "0" and database_of("redis://a:1/3") == "3"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis+cluster://a:1/3", "one database"),
        ("redis+cluster://", "at least one node"),
        ("redis+cluster://a:notaport", "not host:port"),
        ("http://a:1", "Redis URL"),
    ],
)
def test_a_bad_redis_url_is_refused_at_start_up(url, message):
    with pytest.raises(ValueError, match=message):
        check_url(url)
    result = subprocess.run(
        [sys.executable, "-c", "import gateway_site.settings"],
        env={**os.environ, "DEBUG": "True", "REDIS_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "REDIS_URL" in result.stderr


def _settings_of(url: str) -> dict[str, object]:
    code = (
        "import json, gateway_site.settings as s; print(json.dumps({'cache': s.CACHES['default'],"
        " 'broker': s.CELERY_BROKER_URL, 'options': getattr(s, 'CELERY_BROKER_TRANSPORT_OPTIONS',"
        " {}), 'eager': s.CELERY_TASK_ALWAYS_EAGER}))"
    )
    env = {k: v for k, v in os.environ.items() if k != "CELERY_BROKER_URL"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "DEBUG": "True", "REDIS_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


def test_a_cluster_url_configures_the_cache_and_the_broker():
    url = "redis+cluster://127.0.0.1:7001,127.0.0.1:7002"
    conf = _settings_of(url)
    assert conf["cache"] == {
        "BACKEND": "gateway_site.redis_cache.ClusterRedisCache",
        "LOCATION": url,
    }
    assert conf["broker"] == "gwrediscluster://"
    assert conf["options"] == {"global_keyprefix": "{gw:celery}:"}
    assert conf["eager"] is False
    single = _settings_of("redis://127.0.0.1:6379/4")
    assert single["broker"] == "redis://127.0.0.1:6379/4" and single["options"] == {}


@pytest.fixture
def cluster(redis_cluster, settings):
    settings.REDIS_URL = redis_cluster.url
    client = sync_client(redis_cluster.url)
    client.flushdb()  # every master (the cluster is this session's own)
    yield redis_cluster
    client.close()


@pytest.mark.redis_cluster
def test_the_cache_spreads_keys_over_the_cluster(cluster):
    from gateway_site.redis_cache import ClusterRedisCache

    cache = ClusterRedisCache(cluster.url, {})
    data = {f"key-{i}": {"n": i} for i in range(40)}
    cache.set_many(data, timeout=60)
    assert cache.get_many(list(data)) == data
    assert cache.add("key-0", "x") is False and cache.get("key-0") == {"n": 0}
    cache.set("counter", 1, DEFAULT_TIMEOUT)
    assert cache.incr("counter", 4) == 5
    cache.delete_many(list(data))
    assert cache.get_many(list(data)) == {}
    client = sync_client(cluster.url)
    per_node = [n.redis_connection.dbsize() for n in client.get_primaries()]
    assert sum(per_node) == 1  # the counter
    cache.set_many(data, timeout=60)
    per_node = [n.redis_connection.dbsize() for n in client.get_primaries()]
    assert all(count > 0 for count in per_node), per_node  # the keys live on every master


@pytest.mark.redis_cluster
def test_celery_messages_travel_through_the_cluster_in_one_slot(cluster):
    """Kombu speaks to one server: the master of the `{gw:celery}` slot, every key tagged."""
    from kombu import Connection

    from gateway_site import celery_cluster

    celery_cluster.register()
    options = {"global_keyprefix": celery_cluster.KEY_PREFIX}
    with Connection("gwrediscluster://", transport_options=options) as conn:
        queue = conn.SimpleQueue("gw-test")
        for i in range(5):
            queue.put({"n": i})
        got = []
        for _ in range(5):
            message = queue.get(timeout=5)
            got.append(message.payload["n"])
            message.ack()
        queue.close()
    assert got == [0, 1, 2, 3, 4]
    client = sync_client(cluster.url)
    owner = client.get_node_from_key(celery_cluster.KEY_PREFIX)
    keys = [k for n in client.get_primaries() for k in n.redis_connection.keys("*")]
    assert keys and all(k.startswith(b"{gw:celery}:") for k in keys), keys
    assert {client.keyslot(k) for k in keys} == {client.keyslot(celery_cluster.KEY_PREFIX)}
    assert owner.redis_connection.dbsize() == len(keys)
