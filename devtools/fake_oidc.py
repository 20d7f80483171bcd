"""A tiny OpenID Connect provider for tests: discovery, JWKS, authorize, token, userinfo.

    with running_oidc_provider(client_id="gw", client_secret="s3cret") as idp:
        idp.add_user("ann@acme.test", groups=["gateway-admins"])
        ... idp.issuer is http://127.0.0.1:<port> ...

It speaks the authorization-code flow as real providers do: `/authorize` shows a sign-in form
(or signs in `login_hint` at once) and redirects back with a one-time code; `/token` checks the
client (secret in the body or HTTP Basic), the redirect URI and the PKCE verifier, and answers
an RS256 id token (PyJWT; `iss`, `aud`, `exp`, `iat`, `nonce`, `sub`, `email`...) and an access
token; `/userinfo` answers the user's claims for that access token. Knobs for negative tests:
`idp.users[email]` holds each user's claims (e.g. email_verified=False), `idp.sign_with_other_key`
signs id tokens with a key the JWKS does not publish, `idp.audience` overrides `aud`.
A ThreadingHTTPServer on a loopback port 0 socket, stopped by the context manager.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

KID = "fake-idp-key-1"


@lru_cache(maxsize=1)
def _keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    """The provider's signing key and a key it does not publish (made once per process)."""
    return (
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
    )


@dataclass
class FakeIdentityProvider:
    client_id: str
    client_secret: str
    issuer: str = ""
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    sign_with_other_key: bool = False
    audience: str | None = None
    token_requests: int = 0
    _codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    _tokens: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.key, self.other_key = _keys()

    def add_user(
        self, email: str, *, groups: list[str] | tuple[str, ...] = (), verified: bool = True
    ) -> dict[str, Any]:
        claims = {
            "sub": hashlib.sha256(email.encode()).hexdigest()[:24],
            "email": email,
            "email_verified": verified,
            "name": email.split("@")[0].title(),
            "groups": list(groups),
        }
        self.users[email] = claims
        return claims

    # -- endpoints ------------------------------------------------------------------------------
    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        }

    def jwks(self) -> dict[str, Any]:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": KID, "alg": "RS256", "use": "sig"}]}

    def authorize(
        self, params: dict[str, str], email: str | None
    ) -> tuple[int, dict[str, str], str]:
        """(status, headers, body): a form to pick the user, or the redirect with a code."""
        if params.get("client_id") != self.client_id or params.get("response_type") != "code":
            return 400, {}, "unknown client or response type"
        redirect_uri = params.get("redirect_uri", "")
        email = email or params.get("login_hint")
        if not email:
            return 200, {"Content-Type": "text/html"}, _login_form(params)
        if email not in self.users:
            query = urlencode({"error": "access_denied", "state": params.get("state", "")})
            return 302, {"Location": f"{redirect_uri}?{query}"}, ""
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = {"email": email, **params}
        query = urlencode({"code": code, "state": params.get("state", "")})
        return 302, {"Location": f"{redirect_uri}?{query}"}, ""

    def token(
        self, form: dict[str, str], basic: tuple[str, str] | None
    ) -> tuple[int, dict[str, Any]]:
        self.token_requests += 1
        client_id, client_secret = basic or (form.get("client_id"), form.get("client_secret"))
        if client_id != self.client_id or client_secret != self.client_secret:
            return 401, {"error": "invalid_client"}
        with self._lock:
            grant = self._codes.pop(form.get("code", ""), None)  # one-time
        if grant is None or form.get("grant_type") != "authorization_code":
            return 400, {"error": "invalid_grant"}
        if form.get("redirect_uri") != grant.get("redirect_uri"):
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri"}
        if grant.get("code_challenge"):
            verifier = form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if challenge != grant["code_challenge"]:
                return 400, {"error": "invalid_grant", "error_description": "PKCE"}
        claims = self.users[grant["email"]]
        now = int(time.time())
        id_claims = {
            **claims,
            "iss": self.issuer,
            "aud": self.audience or self.client_id,
            "iat": now,
            "exp": now + 300,
        }
        if grant.get("nonce"):
            id_claims["nonce"] = grant["nonce"]
        key = self.other_key if self.sign_with_other_key else self.key
        id_token = jwt.encode(id_claims, key, algorithm="RS256", headers={"kid": KID})
        access_token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[access_token] = grant["email"]
        return 200, {
            "access_token": access_token,
            "id_token": id_token,
            "token_type": "Bearer",
            "expires_in": 300,
        }

    def userinfo(self, bearer: str) -> tuple[int, dict[str, Any]]:
        email = self._tokens.get(bearer)
        if email is None:
            return 401, {"error": "invalid_token"}
        return 200, self.users[email]


def _login_form(params: dict[str, str]) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
    )
    return (
        "<!doctype html><title>Fake identity provider</title><h1>Sign in</h1>"
        f'<form method="post" action="/authorize">{hidden}'
        '<label>E-mail <input type="email" name="email" id="idp-email"></label>'
        '<button type="submit" id="idp-submit">Sign in</button></form>'
    )


class _Handler(BaseHTTPRequestHandler):
    idp: FakeIdentityProvider

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet in tests

    def _send(
        self, status: int, body: str | dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = body if isinstance(body, str) else json.dumps(body)
        self.send_response(status)
        headers = headers or {}
        headers.setdefault("Content-Type", "application/json")
        for name, value in headers.items():
            self.send_header(name, value)
        payload = data.encode()
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode()
        return {k: v[0] for k, v in parse_qs(raw).items()}

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/.well-known/openid-configuration":
            self._send(200, self.idp.discovery())
        elif url.path == "/jwks":
            self._send(200, self.idp.jwks())
        elif url.path == "/authorize":
            status, headers, body = self.idp.authorize(params, None)
            self._send(status, body, headers or {"Content-Type": "text/plain"})
        elif url.path == "/userinfo":
            auth = self.headers.get("Authorization", "")
            status, payload = self.idp.userinfo(auth.removeprefix("Bearer ").strip())
            self._send(status, payload)
        else:
            self._send(404, {"error": "not_found"})

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        form = self._form()
        if url.path == "/authorize":
            email = form.pop("email", "")
            status, headers, body = self.idp.authorize(form, email or None)
            self._send(status, body, headers or {"Content-Type": "text/plain"})
        elif url.path == "/token":
            basic = None
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                basic = (user, password)
            status, payload = self.idp.token(form, basic)
            self._send(status, payload)
        else:
            self._send(404, {"error": "not_found"})


@contextmanager
def running_oidc_provider(*, client_id: str, client_secret: str) -> Iterator[FakeIdentityProvider]:
    """A fake provider on 127.0.0.1:<free port> for the duration of the block."""
    idp = FakeIdentityProvider(client_id=client_id, client_secret=client_secret)
    handler = type("Handler", (_Handler,), {"idp": idp})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    idp.issuer = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-oidc", daemon=True
    )
    thread.start()
    try:
        yield idp
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
