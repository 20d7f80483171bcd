"""Gateway key format, hashing and parsing: pure functions shared by the admin, CLI and proxy.

Format: `gw_sk_<lookup_id>_<secret>` (service key) or `gw_pt_<lookup_id>_<secret>` (personal
token). lookup_id is 12 characters and secret 40, both from [a-z0-9] (no `_`, so parsing is a
split). Only lookup_id and HMAC-SHA256(pepper, full key) are stored; see orgs.models.ApiKey.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

SERVICE_PREFIX = "gw_sk_"
PERSONAL_PREFIX = "gw_pt_"
LOOKUP_LEN = 12
SECRET_LEN = 40
_ALPHABET = string.ascii_lowercase + string.digits
KEY_RE = re.compile(rf"^gw_(sk|pt)_([a-z0-9]{{{LOOKUP_LEN}}})_([a-z0-9]{{{SECRET_LEN}}})$")


@dataclass(frozen=True)
class ParsedKey:
    kind: str  # "service" | "personal"
    lookup_id: str


def peppers() -> list[tuple[str, bytes]]:
    """[(pepper_id, pepper bytes)], newest first, from settings.GATEWAY_KEY_PEPPERS."""
    result = []
    for item in settings.GATEWAY_KEY_PEPPERS:
        pepper_id, sep, value = item.partition(":")
        if not sep or not pepper_id or not value:
            raise ImproperlyConfigured("GATEWAY_KEY_PEPPERS entries must look like id:value")
        result.append((pepper_id, value.encode()))
    if not result:
        raise ImproperlyConfigured("GATEWAY_KEY_PEPPERS is empty")
    return result


def current_pepper_id() -> str:
    return peppers()[0][0]


def key_digest(key: str, pepper_id: str) -> str | None:
    """HMAC-SHA256 of the full key under the named pepper; None if that pepper is gone."""
    for pid, value in peppers():
        if pid == pepper_id:
            return hmac.new(value, key.encode(), hashlib.sha256).hexdigest()
    return None


def generate_key(kind: str) -> tuple[str, str]:
    """Return (full plaintext key, lookup_id) for a new key of `kind`."""
    prefix = SERVICE_PREFIX if kind == "service" else PERSONAL_PREFIX
    lookup_id = "".join(secrets.choice(_ALPHABET) for _ in range(LOOKUP_LEN))
    secret = "".join(secrets.choice(_ALPHABET) for _ in range(SECRET_LEN))
    return f"{prefix}{lookup_id}_{secret}", lookup_id


def parse_key(key: str) -> ParsedKey | None:
    """Split a presented key; None when it is malformed (the caller answers the same 401)."""
    match = KEY_RE.match(key)
    if match is None:
        return None
    return ParsedKey(
        kind="service" if match.group(1) == "sk" else "personal", lookup_id=match.group(2)
    )


def digest_matches(key: str, pepper_id: str, stored_digest: str) -> bool:
    computed = key_digest(key, pepper_id)
    if computed is None:
        return False
    return hmac.compare_digest(computed, stored_digest)


def dummy_compare(key: str) -> None:
    """Spend the same HMAC work on a miss, so an unknown lookup id is not faster than a wrong secret."""
    _, value = peppers()[0]
    hmac.compare_digest(hmac.new(value, key.encode(), hashlib.sha256).hexdigest(), "0" * 64)
