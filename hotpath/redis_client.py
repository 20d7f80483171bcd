"""The one place the gateway makes Redis clients: a single server or a Redis Cluster, from REDIS_URL.

Forms of REDIS_URL:
- `redis://[user:password@]host:port/db` (`rediss://` for TLS, `unix:///path?db=n`): one server;
- `redis+cluster://[user:password@]host:port[,host:port…]` (`rediss+cluster://` for TLS): a Redis
  Cluster. The nodes listed are where the client starts; it learns the others from the cluster.
  A cluster has one database (0), so no database number is accepted.

Everything that speaks to Redis goes through `sync_client` / `async_client` (spend counters, the
record stream, the change channel, the cache, the spend pages), and catches `REDIS_ERRORS`: a
cluster client raises RedisClusterException (not a RedisError) when no node answers.

Cluster rules every caller keeps: a script, a pipeline or a multi-key command touches keys of one
hash slot (their keys share a `{tag}`: `gw:spend:{o<org>}:…`); the record stream is one key; pub/sub
channels are cluster-wide (PUBLISH reaches subscribers on every node).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from redis.exceptions import RedisClusterException, RedisError

REDIS_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    RedisError,
    RedisClusterException,
)

CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


@dataclass(frozen=True, slots=True)
class ClusterTarget:
    """A parsed `redis+cluster://` URL."""

    nodes: tuple[tuple[str, int], ...]
    ssl: bool
    username: str | None
    password: str | None

    def node_url(self, host: str, port: int) -> str:
        """A plain URL for one node (what a client that does not speak the cluster protocol uses)."""
        scheme = "rediss" if self.ssl else "redis"
        auth = ""
        if self.password is not None:
            auth = f"{self.username or ''}:{self.password}@"
        return f"{scheme}://{auth}{host}:{port}/0"


def is_cluster(url: str) -> bool:
    return url.partition("://")[0].lower() in CLUSTER_SCHEMES


def parse_cluster_url(url: str) -> ClusterTarget:
    """`redis+cluster://[user:pass@]h1:p1,h2:p2` → its nodes; ValueError for anything else."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in CLUSTER_SCHEMES:
        raise ValueError(f"not a Redis Cluster URL (redis+cluster://host:port,…): {url!r}")
    netloc, _, path = rest.partition("/")
    netloc = netloc.partition("?")[0]
    if path.strip("/?") not in ("", "0"):
        raise ValueError("a Redis Cluster has one database (0): drop the /db of the URL")
    auth, at, hosts = netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = auth.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    nodes = []
    for item in hosts.split(","):
        item = item.strip()
        if not item:
            continue
        parsed = urlsplit(f"//{item}")
        if not parsed.hostname:
            raise ValueError(f"Redis Cluster node {item!r} is not host:port")
        try:
            port = parsed.port or 6379
        except ValueError as exc:
            raise ValueError(f"Redis Cluster node {item!r} is not host:port") from exc
        nodes.append((parsed.hostname, port))
    if not nodes:
        raise ValueError("a Redis Cluster URL names at least one node: redis+cluster://host:port")
    return ClusterTarget(
        nodes=tuple(nodes),
        ssl=CLUSTER_SCHEMES[scheme.lower()] == "rediss",
        username=username,
        password=password,
    )


def check_url(url: str) -> None:
    """Raise ValueError when REDIS_URL is neither a server URL nor a cluster URL."""
    if is_cluster(url):
        parse_cluster_url(url)
        return
    from redis.connection import parse_url

    parse_url(url)


def database_of(url: str) -> str:
    """The database number `url` names ("0" for a cluster)."""
    if is_cluster(url):
        return "0"
    from urllib.parse import parse_qs, urlparse

    parsed = urlparse(url)
    return parse_qs(parsed.query).get("db", [""])[0] or parsed.path.strip("/") or "0"


def _cluster_kwargs(target: ClusterTarget, kwargs: dict[str, Any]) -> dict[str, Any]:
    out = dict(kwargs)
    if target.ssl:
        out["ssl"] = True
    if target.username:
        out["username"] = target.username
    if target.password is not None:
        out["password"] = target.password
    return out


def sync_client(url: str, **kwargs: Any) -> Any:
    """A redis.Redis, or a redis.cluster.RedisCluster for a cluster URL (same commands)."""
    if not is_cluster(url):
        import redis

        return redis.Redis.from_url(url, **kwargs)
    from redis.cluster import ClusterNode, RedisCluster

    target = parse_cluster_url(url)
    kwargs.pop("health_check_interval", None)
    return RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in target.nodes],
        **_cluster_kwargs(target, kwargs),
    )


def async_client(url: str, *, max_connections: int = 32, **kwargs: Any) -> Any:
    """A redis.asyncio client for the running event loop's use: one server through a blocking
    pool of `max_connections` (a burst waits, bounded by `timeout`, for a free connection), or a
    redis.asyncio.RedisCluster holding up to `max_connections` per node.

    A pooled connection the server closed while it sat idle (a restart, a failover, an idle
    timeout) is found so when the pool hands it out and connects again before anything is sent
    (redis-py skips that check while its maintenance notifications are on, which a plain
    server never sends: they are off here). A command that still meets a dead connection is
    sent once more on a fresh one: the commands the gateway sends through this client's own
    path are reads and idempotent writes (levels, `ZADD XX` of an absolute expiry, PING). The
    counter scripts, which must never run twice, do not go through it: they run on the
    counter stores' own connections (policies.counters.ScriptStore), which reconnect before
    sending and never send again after a failure."""
    if not is_cluster(url):
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.maint_notifications import MaintNotificationsConfig

        timeout = kwargs.pop("timeout", 5)
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=timeout,
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
            maint_notifications_config=MaintNotificationsConfig(enabled=False),
            **kwargs,
        )
        return aioredis.Redis(connection_pool=pool)
    from redis.asyncio.cluster import ClusterNode, RedisCluster

    target = parse_cluster_url(url)
    kwargs.pop("timeout", None)
    return RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in target.nodes],
        max_connections=max_connections,
        **_cluster_kwargs(target, kwargs),
    )


def slot_owner(url: str, key: str) -> tuple[str, int]:
    """(host, port) of the master that holds `key`'s hash slot, asked of the cluster now."""
    client = sync_client(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        node = client.get_node_from_key(key)
        return node.host, int(node.port)
    finally:
        client.close()
