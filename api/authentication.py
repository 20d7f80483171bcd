"""Who is calling the management API: a gateway key or an admin session.

Two small DRF authentication classes, tried in order:
- `GatewayKeyAuthentication`: `x-api-key: <key>` or `Authorization: Bearer <key>`, resolved by
  orgs.services.api_key_authenticate. Unknown, malformed, wrong, expired and revoked keys all get
  the same 401 with the same message (no enumeration). The principal is the `ApiKey` itself
  (`request.auth`); orgs.permissions gives a service key its role's permissions and a personal
  token its user's permissions in its own workspace.
- `CsrfSessionAuthentication`: the admin's session cookie, with DRF's CSRF enforcement on unsafe
  methods (so a page on another site cannot drive the API with a logged-in browser).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import AnonymousUser
from rest_framework import authentication, exceptions

from orgs.models import ApiKey
from orgs.services import api_key_authenticate

if TYPE_CHECKING:
    from rest_framework.request import Request

INVALID_KEY_MESSAGE = "Invalid API key."
KEY_HEADER = "HTTP_X_API_KEY"


@dataclass(frozen=True)
class KeyActor:
    """The `actor` handed to services when a key (not a session) makes a change.

    It is deliberately not a user: `is_authenticated` is False so no user foreign key is set from
    it, and `is_superuser` is False so operator-only rules (the gateway flag, arbitrary provider
    base URLs) are refused even for a superuser's personal token. The audit log names the key by
    its public prefix through `audit_label` (orgs.models.actor_label_for reads it).
    """

    api_key: ApiKey
    is_authenticated: bool = False
    is_superuser: bool = False
    is_active: bool = True

    @property
    def audit_label(self) -> str:
        label = f"key {self.api_key.display_prefix}"
        if self.api_key.kind == ApiKey.Kind.PERSONAL and self.api_key.user_id:
            label += f" of {self.api_key.user.get_username()}"
        return label[:200]

    def get_username(self) -> str:
        return self.audit_label


def presented_key(request: Request) -> str | None:
    """The key from `x-api-key` or `Authorization: Bearer`, or None when neither header is set."""
    header = request.META.get(KEY_HEADER)
    if header is not None:
        return header.strip()
    auth = authentication.get_authorization_header(request).decode("latin-1")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    return None


class GatewayKeyAuthentication(authentication.BaseAuthentication):
    """A gateway key in `x-api-key` or `Authorization: Bearer`; one identical 401 for every miss."""

    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        key = presented_key(request)
        if key is None:
            return None
        api_key = api_key_authenticate(key) if key else None
        if api_key is None:
            raise exceptions.AuthenticationFailed(INVALID_KEY_MESSAGE)
        # request.user stays anonymous: the key, not its assignee, is the principal.
        return AnonymousUser(), api_key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class CsrfSessionAuthentication(authentication.SessionAuthentication):
    """The admin session; DRF's SessionAuthentication already enforces CSRF on unsafe methods."""
