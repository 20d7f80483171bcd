"""Cursor pagination for the long lists (audit log, runs) and its OpenAPI shape.

Cursor (not page-number) pagination because these tables grow while a client pages through
them: a cursor never repeats or skips a row when new rows arrive, and it costs one indexed range
scan per page instead of an OFFSET over everything before it.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.pagination import CursorPagination

PAGE_PARAMETERS = [
    OpenApiParameter("cursor", str, description="Opaque cursor from `next` or `previous`."),
    OpenApiParameter("limit", int, description="Items per page (1-200, default 50)."),
]


class Cursor(CursorPagination):
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200

    def __init__(self, ordering: str | tuple[str, ...] = "-id") -> None:
        self.ordering = ordering

    def get_page_size(self, request: Any) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise serializers.ValidationError(
                {"limit": [f"must be an integer from 1 to {self.max_page_size}"]}
            )
        return int(raw)


_pages: dict[str, type[serializers.Serializer]] = {}


def page_of(item: type[serializers.Serializer], name: str) -> type[serializers.Serializer]:
    """A `{next, previous, results: [item]}` serializer, named `<name>Page` in the schema."""
    if name not in _pages:

        class Meta:
            ref_name = f"{name}Page"

        _pages[name] = type(
            f"{name}PageSerializer",
            (serializers.Serializer,),
            {
                "Meta": Meta,
                "next": serializers.CharField(allow_null=True),
                "previous": serializers.CharField(allow_null=True),
                "results": item(many=True),
            },
        )
    return _pages[name]
