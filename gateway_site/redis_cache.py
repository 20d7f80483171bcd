"""Django's Redis cache on a Redis Cluster (REDIS_URL=redis+cluster://…).

Django's RedisCache speaks to servers it shards itself; this one hands every command to one
redis.cluster.RedisCluster client (hotpath.redis_client), which routes each key to the node that
holds its slot. The multi-key operations that Django sends as one command (MGET, MSET in a
pipeline) become one command per key's slot.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

from hotpath.redis_client import sync_client


class ClusterRedisCacheClient(RedisCacheClient):
    def __init__(self, servers: list[str], **options: Any) -> None:
        super().__init__(servers, **options)
        self._cluster: Any = None

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        if self._cluster is None:
            self._cluster = sync_client(
                self._servers[0], socket_timeout=1, socket_connect_timeout=1
            )
        return self._cluster

    def get_many(self, keys: Any) -> dict[Any, Any]:
        keys = list(keys)
        values = self.get_client().mget_nonatomic(keys)
        return {
            k: self._serializer.loads(v) for k, v in zip(keys, values, strict=True) if v is not None
        }

    def set_many(self, data: dict[Any, Any], timeout: int | None) -> None:
        for key, value in data.items():
            self.set(key, value, timeout)


class ClusterRedisCache(RedisCache):
    """CACHES backend for a cluster URL: LOCATION is the whole `redis+cluster://` URL."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._servers = [server]  # the URL's commas separate nodes, not Django's shards
        self._class = ClusterRedisCacheClient
