"""Encryption of provider secrets with `cryptography`'s MultiFernet.

Keys come from settings.GATEWAY_SECRETS_KEYS, newest first: encryption uses the newest,
decryption tries each, so a new key can be put in front and `gateway_rotate_secrets` run later.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretUnreadable(Exception):
    """The ciphertext does not decrypt under any configured key."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("GATEWAY_SECRETS_KEYS is empty")
    try:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "GATEWAY_SECRETS_KEYS must hold Fernet keys (32 url-safe base64-encoded bytes)"
        ) from exc


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.GATEWAY_SECRETS_KEYS))


def encrypt(value: str) -> str:
    return fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(
            "provider secret does not decrypt under GATEWAY_SECRETS_KEYS"
        ) from exc


def rotate(token: str) -> str:
    """Re-encrypt under the newest key (MultiFernet.rotate keeps the original timestamp)."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(
            "provider secret does not decrypt under GATEWAY_SECRETS_KEYS"
        ) from exc
