"""OpenID Connect sign-in per organization, on mozilla-django-oidc.

mozilla-django-oidc reads one provider from settings; here each organization has its own
(accounts.models.SsoProvider), so the views and the backend take the provider's endpoints and
client from the database instead: the start view puts the provider's id in the session, the
callback's backend reads it back. Everything else is the library's authorization-code flow
(state, nonce, PKCE, token request, id token signature through the provider's JWKS, userinfo).

On top of the library:
- endpoints come from the issuer's discovery document (cached for DISCOVERY_TTL seconds), whose
  `issuer` must be the configured one;
- the id token's `iss` must be the issuer and its `aud` our client id (the library skips the
  audience), and the userinfo's `sub` must be the id token's;
- who may sign in and with which roles is accounts.services.sso_sign_in; a refusal is shown on
  the sign-in page, never as an error page.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import jwt
import requests
from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import resolve_url
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from accounts.models import SsoProvider
from accounts.services import SsoRefused, sso_client_secret, sso_sign_in
from secrets_vault.crypto import SecretUnreadable

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

SESSION_PROVIDER = "gw_sso_provider"
DISCOVERY_TTL = 3600
SUPPORTED_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256")


class DiscoveryError(Exception):
    """The provider's discovery document could not be read or does not fit."""


def discovery_cache_key(issuer: str) -> str:
    return f"gw:oidc:discovery:{issuer}"


def discover(issuer: str, *, refresh: bool = False) -> dict[str, Any]:
    """The provider's endpoints from `<issuer>/.well-known/openid-configuration` (cached)."""
    cache_key = discovery_cache_key(issuer)
    config = None if refresh else cache.get(cache_key)
    if config is None:
        try:
            response = requests.get(
                f"{issuer}/.well-known/openid-configuration", timeout=settings.OIDC_TIMEOUT
            )
            response.raise_for_status()
            config = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise DiscoveryError(f"cannot read the discovery document of {issuer}: {exc}") from exc
        if not isinstance(config, dict) or config.get("issuer", "").rstrip("/") != issuer:
            raise DiscoveryError(f"the discovery document of {issuer} names another issuer")
        missing = [
            k
            for k in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint")
            if not config.get(k)
        ]
        if missing:
            raise DiscoveryError(f"the discovery document of {issuer} lacks {', '.join(missing)}")
        cache.set(cache_key, config, DISCOVERY_TTL)
    return config


def signing_algorithm(config: dict[str, Any]) -> str:
    offered = config.get("id_token_signing_alg_values_supported") or ["RS256"]
    for alg in SUPPORTED_ALGORITHMS:
        if alg in offered:
            return alg
    raise DiscoveryError(f"no supported id token algorithm among {offered}")


def _provider_from_session(request: HttpRequest) -> SsoProvider | None:
    provider_id = request.session.get(SESSION_PROVIDER)
    if provider_id is None:
        return None
    return (
        SsoProvider.objects.select_related("organization")
        .filter(pk=provider_id, enabled=True)
        .first()
    )


def _refuse(request: HttpRequest, message: str) -> None:
    request._gw_sso_error = message  # type: ignore[attr-defined]


class OrganizationOIDCBackend(OIDCAuthenticationBackend):
    """The library's backend, configured per sign-in from the organization's provider."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The library reads one global provider here; ours comes with each request.
        from django.contrib.auth import get_user_model

        self.UserModel = get_user_model()
        self.provider: SsoProvider | None = None

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> AbstractBaseUser | None:
        # Only the OIDC callback passes a nonce; password sign-ins are ModelBackend's.
        if request is None or "nonce" not in kwargs:
            return None
        provider = _provider_from_session(request)
        if provider is None:
            _refuse(request, "This single sign-on is not available any more.")
            return None
        try:
            config = discover(provider.issuer)
            self.provider = provider
            self.OIDC_OP_TOKEN_ENDPOINT = config["token_endpoint"]
            self.OIDC_OP_USER_ENDPOINT = config["userinfo_endpoint"]
            self.OIDC_OP_JWKS_ENDPOINT = config["jwks_uri"]
            self.OIDC_RP_CLIENT_ID = provider.client_id
            self.OIDC_RP_CLIENT_SECRET = sso_client_secret(provider)
            self.OIDC_RP_SIGN_ALGO = signing_algorithm(config)
            self.OIDC_RP_IDP_SIGN_KEY = None
            return super().authenticate(request, **kwargs)
        except SsoRefused as exc:
            _refuse(request, str(exc))
        except (DiscoveryError, SecretUnreadable, requests.RequestException) as exc:
            logger.warning("single sign-on of %s failed: %s", provider.organization.slug, exc)
            _refuse(request, f"{provider.organization.name}'s identity provider cannot be reached.")
        except (SuspiciousOperation, jwt.PyJWTError, KeyError, ValueError) as exc:
            logger.warning("single sign-on of %s refused: %s", provider.organization.slug, exc)
            _refuse(request, "The identity provider's answer could not be verified.")
        return None

    def _verify_jws(self, payload: str, key: Any) -> dict[str, Any]:
        """Signature, expiry, issuer and audience (our client id) of the id token."""
        if self.provider is None:
            raise SuspiciousOperation("no provider for this sign-in")
        header = jwt.get_unverified_header(payload)
        if header.get("alg") != self.OIDC_RP_SIGN_ALGO:
            raise SuspiciousOperation(f"unexpected id token algorithm {header.get('alg')!r}")
        return jwt.decode(
            payload,
            key,
            algorithms=[self.OIDC_RP_SIGN_ALGO],
            audience=self.OIDC_RP_CLIENT_ID,
            issuer=self.provider.issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )

    def get_or_create_user(
        self, access_token: str, id_token: str, payload: dict[str, Any]
    ) -> AbstractBaseUser:
        if self.provider is None:
            raise SuspiciousOperation("no provider for this sign-in")
        userinfo = self.get_userinfo(access_token, id_token, payload)
        if userinfo.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("the userinfo answer is about another subject")
        # Claims from the userinfo endpoint win; the id token fills in what it lacks (groups
        # are often only in one of them).
        return sso_sign_in(provider=self.provider, claims={**payload, **userinfo})


class SsoStartView(OIDCAuthenticationRequestView):
    """GET /accounts/sso/<organization slug>/: redirect to the organization's provider."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Not the library's __init__: it reads one global provider from settings.
        super(OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)
        self._scopes = "openid email"

    def get_settings(self, attr: str, *args: Any) -> Any:  # type: ignore[override]
        if attr == "OIDC_RP_SCOPES":
            return self._scopes
        return super().get_settings(attr, *args)

    def get(self, request: HttpRequest, slug: str) -> HttpResponse:  # type: ignore[override]
        provider = (
            SsoProvider.objects.select_related("organization")
            .filter(organization__slug=slug, enabled=True)
            .first()
        )
        if provider is None:
            raise Http404("No single sign-on for this organization.")
        try:
            config = discover(provider.issuer)
        except DiscoveryError as exc:
            logger.warning("single sign-on of %s unavailable: %s", slug, exc)
            messages.error(
                request, f"{provider.organization.name}'s identity provider cannot be reached."
            )
            return HttpResponseRedirect(resolve_url("admin:login"))
        self.OIDC_OP_AUTH_ENDPOINT = config["authorization_endpoint"]
        self.OIDC_RP_CLIENT_ID = provider.client_id
        self._scopes = provider.scopes
        request.session[SESSION_PROVIDER] = provider.pk
        return super().get(request)


class SsoCallbackView(OIDCAuthenticationCallbackView):
    """GET /accounts/sso/callback/: the library's code exchange, then the admin (or `next`)."""

    @property
    def failure_url(self) -> str:
        return resolve_url("admin:login")

    def login_failure(self) -> HttpResponse:
        reason = getattr(self.request, "_gw_sso_error", None)
        if self.request.GET.get("error"):
            reason = f"The identity provider refused the sign-in ({self.request.GET['error']})."
        messages.error(self.request, reason or "The single sign-on did not complete; try again.")
        return super().login_failure()
