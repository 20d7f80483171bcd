"""Gateway key → RequestContext, from in-process snapshots (docs/architecture.md, "Auth").

Three snapshots (hotpath.snapshot), loaded by proxy/auth_build.py:
- `KeyTable` (topic "keys"): every live key (lookup id, HMAC digest, pepper id, expiry, the
  organization's gateway flag, and a prebuilt RequestContext whose permissions come from
  orgs.permissions), reloaded when an organization, workspace, role, membership, user or key
  changes;
- the provider secrets (topic "secrets"): workspace id → secret name → UpstreamSecret;
- the price table (topic "prices").
Splitting them keeps a key revocation from re-decrypting every provider secret.

Keys are verified by orgs.keys.verify_key, the verifier every surface uses. A key still hashed
under an older pepper is re-hashed under the newest off the request path (the recorder's thread
calls orgs.services.api_key_rehash), so keys used only through the proxy survive the removal of
their old pepper too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from hotpath.context import RequestContext
from hotpath.errors import AuthFailed, Forbidden
from orgs.keys import Peppers, dummy_compare, parse_key, verify_key
from orgs.permissions_catalogue import INVOKE_PERMISSIONS

FLAG_OFF = "LLM Gateway is not enabled for this organization"
ORG_KEY = (
    "organization-scoped keys cannot call the gateway: use a key scoped to one workspace "
    "(a workspace service key or a personal access token)"
)


@dataclass(frozen=True, slots=True)
class UpstreamSecret:
    """A decrypted provider secret and its optional base URL override. Never logged.

    A custom provider's entry also carries its extra headers and, when it has one, the only
    models callers may name; its `secret` is '' when it needs none (no auth header is sent)."""

    secret: str = field(repr=False)
    base_url: str = ""
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    models: frozenset[str] = frozenset()


# workspace id -> secret name (or "custom/NAME" for a custom provider) -> secret
SecretTable = dict[int, dict[str, UpstreamSecret]]


@dataclass(frozen=True, slots=True)
class KeyEntry:
    key_id: int
    kind: str
    digest: str = field(repr=False)
    pepper_id: str
    organization_id: int
    workspace_id: int | None  # None: organization-scoped (refused)
    expires_at: float | None  # epoch seconds
    org_enabled: bool
    ctx: RequestContext | None  # None for organization-scoped keys


@dataclass(frozen=True, slots=True)
class KeyTable:
    keys: dict[str, KeyEntry]  # lookup_id -> entry
    peppers: Peppers

    def authenticate(self, presented: str | None) -> KeyEntry:
        """The entry of a valid, unexpired key; AuthFailed (one identical 401) otherwise.
        Every failure path spends one HMAC, so timing does not tell unknown from wrong."""
        parsed = parse_key(presented) if presented else None
        entry = self.keys.get(parsed.lookup_id) if parsed is not None else None
        if entry is None:
            dummy_compare(presented or "", self.peppers)
            raise AuthFailed()
        if not verify_key(
            presented,  # type: ignore[arg-type]
            kind=entry.kind,
            digest=entry.digest,
            pepper_id=entry.pepper_id,
            known=self.peppers,
        ):
            raise AuthFailed()
        if entry.expires_at is not None and entry.expires_at <= time.time():
            raise AuthFailed()
        return entry

    def needs_rehash(self, entry: KeyEntry) -> bool:
        return entry.pepper_id != self.peppers.newest

    @staticmethod
    def authorize(entry: KeyEntry) -> RequestContext:
        """403 for a disabled organization, an organization-scoped key or a missing permission."""
        if not entry.org_enabled:
            raise Forbidden(FLAG_OFF)
        if entry.ctx is None:
            raise Forbidden(ORG_KEY)
        for permission in INVOKE_PERMISSIONS:
            if permission not in entry.ctx.permissions:
                raise Forbidden(f"missing permission {permission}")
        return entry.ctx
