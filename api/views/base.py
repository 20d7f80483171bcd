"""The base class of every management API view: authentication, the principal check, errors."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from rest_framework.views import APIView

from api.authentication import CsrfSessionAuthentication, GatewayKeyAuthentication
from api.errors import exception_handler
from api.permissions import IsPrincipal


class ApiView(APIView):
    """Key first (so an unauthenticated call gets 401 with `WWW-Authenticate: Bearer`), then the
    admin session; every view then scopes with api.permissions.{workspace_for,organization_for}."""

    authentication_classes = (GatewayKeyAuthentication, CsrfSessionAuthentication)
    permission_classes = (IsPrincipal,)

    def get_exception_handler(self) -> Any:
        return exception_handler


@csrf_exempt  # it changes nothing, and a CSRF failure page would be HTML
def endpoint_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Anything under /api/v1/ that matches no route (an id that is not a number, a typo) gets
    the API's JSON 404 rather than Django's HTML page, so clients can always parse an error."""
    detail = "Not found: no such API endpoint or object."
    if not request.path.endswith("/"):
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not endpoint_not_found:
            detail += f" API paths end with a slash: {request.path}/"
    return JsonResponse({"detail": detail}, status=404)
