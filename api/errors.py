"""One JSON error shape for the whole API: `{"detail": "...", "errors": {...}}`.

DRF already renders its own exceptions as `{"detail": ...}` (401/403/404/405/415) and validation
errors as a field → messages mapping. This handler adds what DRF leaves to a 500: the Django
exceptions that services raise (ValidationError, BuiltinRoleImmutable, ProtectedError,
IntegrityError) become 400/409 with the service's own message, and every body gets a top-level
`detail` sentence so a client can always print something readable.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import ProtectedError
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from orgs.models import BuiltinRoleImmutable

logger = logging.getLogger(__name__)


class Conflict(exceptions.APIException):
    status_code = 409
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


class ErrorSerializer(serializers.Serializer):
    """Every 4xx answer: a readable `detail` and, for invalid input, the messages per field."""

    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.JSONField(), required=False)


def _messages(exc: DjangoValidationError) -> list[str]:
    return [str(m) for m in exc.messages] or ["Invalid input."]


def _translate(exc: Exception) -> Exception:
    """Map Django/service exceptions onto DRF ones carrying the same message."""
    if isinstance(exc, BuiltinRoleImmutable):
        return exceptions.ValidationError({"detail": " ".join(_messages(exc))})
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            return exceptions.ValidationError(exc.message_dict)
        return exceptions.ValidationError({"detail": " ".join(_messages(exc))})
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, ProtectedError):
        return Conflict("The object is still in use and cannot be deleted.")
    if isinstance(exc, IntegrityError):
        return Conflict("The object conflicts with an existing one (duplicate name or slug?).")
    return exc


def _first_message(data: Any) -> str:
    if isinstance(data, dict):
        for field, value in data.items():
            message = _first_message(value)
            return message if field in ("detail", "non_field_errors") else f"{field}: {message}"
    if isinstance(data, list) and data:
        return _first_message(data[0])
    return str(data) if data not in (None, "", [], {}) else "Invalid input."


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler after translation; validation bodies become {"detail", "errors"}."""
    response = drf_exception_handler(_translate(exc), context)
    if response is None:
        # A bug, not a client error: logged with its traceback, answered in the API's JSON shape
        # (never the exception text, which could carry data the caller may not see).
        logger.exception("management API: unhandled error", exc_info=exc)
        set_rollback()
        return Response({"detail": "Internal server error."}, status=500)
    data = response.data
    if isinstance(data, dict) and set(data) == {"detail"} and isinstance(data["detail"], str):
        return response
    if isinstance(data, dict) and set(data) == {"detail"}:
        response.data = {"detail": _first_message(data)}
        return response
    response.data = {
        "detail": _first_message(data),
        "errors": data if isinstance(data, dict) else {"non_field_errors": data},
    }
    return response
