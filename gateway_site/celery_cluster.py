"""Celery's broker on a Redis Cluster (REDIS_URL=redis+cluster://…).

Kombu's Redis transport does not speak the cluster protocol (it sends each command to one
server). It does not need to: every key it writes carries the `{gw:celery}` hash tag (kombu's
`global_keyprefix`), so all of them live in one slot, and this transport connects each channel
to the master that holds that slot, asked of the cluster when the channel connects. Its BRPOP
over several queues, its pipelines and its scripts then touch one slot on one node, as a cluster
requires; its fan-out messages (worker control) are pub/sub, which reaches every node.

After a failover the old master's connection fails, kombu reconnects, and the new channel asks
the cluster again: the broker follows the slot to its new master.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from kombu.transport import redis as kombu_redis
from redis.exceptions import (
    AskError,
    ClusterDownError,
    MovedError,
    RedisClusterException,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError

from hotpath.redis_client import REDIS_ERRORS, parse_cluster_url, slot_owner

ALIAS = "gwrediscluster"
KEY_PREFIX = "{gw:celery}:"


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        params = super()._connparams(asynchronous=asynchronous)
        target = parse_cluster_url(settings.REDIS_URL)
        try:
            params["host"], params["port"] = slot_owner(settings.REDIS_URL, KEY_PREFIX)
        except REDIS_ERRORS as exc:
            # Kombu retries a connection on the transport's connection errors only: a cluster
            # that no node answers for (restarting) must be one, not a crash of the worker.
            raise RedisConnectionError(f"Redis Cluster unreachable: {exc}") from exc
        params["db"] = 0
        if target.password is not None:
            params["username"], params["password"] = target.username, target.password
        if target.ssl:
            params["connection_class"] = self.connection_class_ssl
        return params


class Transport(kombu_redis.Transport):
    Channel = Channel
    # A cluster that is forming again (CLUSTERDOWN), whose slot moved (MOVED, after a failover)
    # or that asks to retry (TRYAGAIN) is a connection to make again, not a broken worker:
    # Celery reconnects on these, and the new channel asks the cluster where the slot is now.
    connection_errors = (
        *kombu_redis.Transport.connection_errors,
        ClusterDownError,
        MovedError,
        AskError,
        TryAgainError,
        RedisClusterException,
    )


def register() -> None:
    """Make `gwrediscluster://` a kombu transport (gateway_site.celery calls it)."""
    from kombu.transport import TRANSPORT_ALIASES

    TRANSPORT_ALIASES.setdefault(ALIAS, f"{__name__}:Transport")
