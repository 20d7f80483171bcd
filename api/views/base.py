"""The base class of every management API view: authentication, the principal check, errors."""

from __future__ import annotations

from typing import Any

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
