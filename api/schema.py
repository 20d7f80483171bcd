"""OpenAPI description helpers: the gateway-key security schemes and the documented errors."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample, OpenApiResponse

from api.errors import ErrorSerializer

_ERROR_TEXT = {
    400: "Invalid input: `detail` says what, `errors` lists the messages per field.",
    401: "No credentials, or an unknown, malformed, expired or revoked key (always the same).",
    403: "Visible, but the caller lacks the permission named in `detail`.",
    404: "Not found, or not visible to the caller (another organization's or workspace's).",
    409: "Conflicts with the current state (in use, duplicate).",
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """Documented error responses; 401 is added to every operation."""
    return {
        code: OpenApiResponse(ErrorSerializer, description=_ERROR_TEXT[code])
        for code in sorted({401, *codes})
    }


def responses(ok: Any, *codes: int, status: int = 200) -> dict[int, Any]:
    return {status: ok, **errors(*codes)}


class GatewayKeyScheme(OpenApiAuthenticationExtension):
    """A gateway key in `x-api-key` or as a bearer token: either one (OR), not both."""

    target_class = "api.authentication.GatewayKeyAuthentication"
    name = ["gatewayKey", "gatewayBearer"]

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list[Any]]]:
        return [{"gatewayKey": []}, {"gatewayBearer": []}]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        return [
            {"type": "apiKey", "in": "header", "name": "x-api-key"},
            {"type": "http", "scheme": "bearer", "bearerFormat": "gw_sk_… / gw_pt_…"},
        ]


class CsrfSessionScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.CsrfSessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        from django.conf import settings

        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}


def example(summary: str, value: dict[str, Any]) -> list[OpenApiExample]:
    """One request-body example, shown in the docs (and tried first by the schema fuzzer)."""
    return [OpenApiExample(summary, value=value, request_only=True)]
