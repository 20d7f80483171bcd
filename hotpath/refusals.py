"""Calls refused before a workspace was known: no run can hold them (a run belongs to a
workspace's project), yet each is a security signal (a leaked or revoked key still in use, a
scanner probing paths, an organization key in a client's configuration). The proxy counts
them per minute, reason, key prefix and client address, and ships the counts with its call
records; tracing stores them as security events.

Never key material: the key prefix is the public lookup part of a well-formed gateway key
(`gw_sk_<lookup id>`, what the admin shows), and empty for anything else (a provider's key
sent by mistake, a random token).
"""

from __future__ import annotations

from dataclasses import dataclass

# Why the call was refused (one value per row of the security events).
MISSING_KEY = "missing_key"  # no key in any of the places SDKs send one: 401
INVALID_KEY = "invalid_key"  # unknown, malformed, expired or revoked key: 401
ORGANIZATION_KEY = "organization_key"  # an organization-scoped key: 403
PATH_NOT_ALLOWED = "path_not_allowed"  # a path or method outside the allow-list: 501
REASONS = (MISSING_KEY, INVALID_KEY, ORGANIZATION_KEY, PATH_NOT_ALLOWED)


@dataclass(slots=True)
class RefusedCalls:
    """`count` calls refused for `reason` within the minute starting at `minute`."""

    minute: int  # epoch seconds, a multiple of 60
    reason: str
    key_prefix: str = ""
    client_address: str = ""
    organization_id: int | None = None  # known for an organization-scoped key only
    path: str = ""  # the first path refused in that minute (probed paths, for scanners)
    count: int = 1
