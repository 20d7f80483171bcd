"""Tell every gateway process that keys, roles, flags, secrets, prices or policies changed.

The proxy keeps those in an in-process table refreshed every GATEWAY_AUTH_REFRESH_SECONDS. This
module makes changes visible sooner:
- in this process, `generation()` grows, and a proxy served by this process reloads its table
  before serving the next request (tests and single-process deployments see changes at once);
- with REDIS_URL set, a message on CHANNEL wakes the refresher of every gateway process.
Both happen after the transaction commits, so a reloading proxy never reads the old rows.
A lost publish (Redis down) costs at most one refresh interval; it never fails the write.

Platform apps connect their models with `connect_model` in AppConfig.ready(): signals are used
for cache invalidation only (STYLE 2.2).
"""

from __future__ import annotations

import logging
import threading
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save

if TYPE_CHECKING:
    import redis
    from django.db.models import Model

logger = logging.getLogger(__name__)

CHANNEL = "gateway:invalidate"

_lock = threading.Lock()
_generation = [0]


def generation() -> int:
    """A counter that grows after every committed change to a connected model in this process."""
    return _generation[0]


@lru_cache(maxsize=1)
def _redis_client(url: str) -> redis.Redis:
    import redis

    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)


def _publish(reason: str) -> None:
    with _lock:
        _generation[0] += 1
    if not settings.REDIS_URL:
        return
    try:
        _redis_client(settings.REDIS_URL).publish(CHANNEL, reason)
    except Exception:  # any Redis failure: the periodic refresh still applies the change
        logger.warning(
            "could not publish gateway invalidation (%s); proxies refresh on their timer", reason
        )


def invalidate(reason: str) -> None:
    """Bump the generation and publish, once the current transaction (if any) commits."""
    transaction.on_commit(lambda: _publish(reason))


def _on_change(sender: type[Model], **kwargs: Any) -> None:
    invalidate(sender._meta.label_lower)


def connect_model(model: type[Model]) -> None:
    """Invalidate the proxies' tables whenever a row of `model` is saved or deleted."""
    uid = f"gateway-invalidate-{model._meta.label_lower}"
    post_save.connect(_on_change, sender=model, dispatch_uid=f"{uid}-save", weak=False)
    post_delete.connect(_on_change, sender=model, dispatch_uid=f"{uid}-delete", weak=False)
