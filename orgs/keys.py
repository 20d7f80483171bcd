"""Gateway key format, hashing and parsing: pure functions shared by the admin, CLI and proxy.

Format: `gw_sk_<lookup_id>_<secret>` (service key) or `gw_pt_<lookup_id>_<secret>` (personal
token). lookup_id is 12 characters and secret 40, both from [a-z0-9] (no `_`, so parsing is a
split). Only lookup_id and HMAC-SHA256(pepper, full key) are stored; see orgs.models.ApiKey.
"""

from __future__ import annotations

import hmac
import re
import secrets
import string
from dataclasses import dataclass
from functools import lru_cache

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


@dataclass(frozen=True)
class Peppers:
    """The HMAC peppers of gateway keys, by id; `newest` hashes every new or re-hashed key."""

    by_id: dict[str, bytes]
    newest: str


@lru_cache(maxsize=8)
def _parse_peppers(entries: tuple[str, ...]) -> Peppers:
    by_id: dict[str, bytes] = {}
    for item in entries:
        pepper_id, sep, value = item.partition(":")
        if not sep or not pepper_id or not value:
            raise ImproperlyConfigured("GATEWAY_KEY_PEPPERS entries must look like id:value")
        by_id.setdefault(pepper_id, value.encode())
    if not by_id:
        raise ImproperlyConfigured("GATEWAY_KEY_PEPPERS is empty")
    return Peppers(by_id=by_id, newest=entries[0].partition(":")[0])


def peppers() -> Peppers:
    """The peppers of settings.GATEWAY_KEY_PEPPERS (newest first), parsed once per value."""
    return _parse_peppers(tuple(settings.GATEWAY_KEY_PEPPERS))


def current_pepper_id() -> str:
    return peppers().newest


def key_digest(key: str, pepper_id: str) -> str | None:
    """HMAC-SHA256 of the full key under the named pepper; None if that pepper is gone."""
    value = peppers().by_id.get(pepper_id)
    if value is None:
        return None
    return hmac.digest(value, key.encode(), "sha256").hex()


def verify_key(
    presented: str, *, kind: str, digest: str, pepper_id: str, known: Peppers | None = None
) -> bool:
    """The one key verifier, for every surface (the proxy's key table, the REST API, the CLI):
    does `presented` match a stored key of `kind` with `digest` under `pepper_id`?

    Constant time in the secret (hmac.compare_digest); a malformed key, another kind or a
    pepper that was removed spends the same HMAC and fails like a wrong secret, so timing does
    not tell them apart. The caller re-hashes under the newest pepper when `pepper_id` is not
    `known.newest` (see orgs.services_keys.api_key_rehash)."""
    known = known or peppers()
    parsed = parse_key(presented)
    pepper = known.by_id.get(pepper_id)
    if parsed is None or parsed.kind != kind or pepper is None:
        dummy_compare(presented, known)
        return False
    # hmac.digest: OpenSSL's one-shot HMAC, the same value as hmac.new(...).hexdigest() without
    # building an HMAC object (a key is verified on every proxied call).
    computed = hmac.digest(pepper, presented.encode(), "sha256").hex()
    return hmac.compare_digest(computed, digest)


def dummy_compare(key: str, known: Peppers | None = None) -> None:
    """Spend the same HMAC work on a miss, so an unknown lookup id is not faster than a wrong
    secret."""
    known = known or peppers()
    value = known.by_id[known.newest]
    hmac.compare_digest(hmac.digest(value, key.encode(), "sha256").hex(), "0" * 64)


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
