"""List filters of the runs list. Their choices come only from the user's own workspaces
(Django's RelatedFieldListFilter would list every key, user and project in the database), and
none of them scans the runs table to build its choices: the list must stay fast over millions
of runs.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from orgs.models import ApiKey, WorkspaceMember
from tracing.models import Run, TracingProject

if TYPE_CHECKING:
    from django.contrib.admin.views.main import ChangeList
    from django.db.models import QuerySet
    from django.http import HttpRequest

CHOICES_LIMIT = 200


def _scope_ids(request: HttpRequest, model_admin: Any) -> set[int] | None:
    return model_admin._ids(request)


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise IncorrectLookupParameters(f"not an id: {value!r}") from exc


class TimeRangeFilter(admin.ListFilter):
    """A relative window (?period=1h|24h|7d|30d|all) or explicit ISO bounds (?since=&until=).

    Without either, the list shows the last 24 hours: the totals above the list aggregate
    every run of the filter, and an unbounded default would make the page that everyone opens
    first scan the whole history. "Any time" is one click away (?period=all).
    """

    title = "time range"
    DEFAULT = "24h"
    PERIODS: dict[str, tuple[str, dt.timedelta | None]] = {
        "1h": ("Last hour", dt.timedelta(hours=1)),
        "24h": ("Last 24 hours", dt.timedelta(days=1)),
        "7d": ("Last 7 days", dt.timedelta(days=7)),
        "30d": ("Last 30 days", dt.timedelta(days=30)),
        "all": ("Any time", None),
    }

    def __init__(
        self, request: HttpRequest, params: dict[str, list[str]], model: Any, model_admin: Any
    ) -> None:
        super().__init__(request, params, model, model_admin)
        for name in self.expected_parameters():
            if name in params:
                self.used_parameters[name] = params.pop(name)[-1]
        period = self.used_parameters.get("period")
        if period is not None and period not in self.PERIODS:
            raise IncorrectLookupParameters(f"unknown period {period!r}")
        self.since = self._parse("since")
        self.until = self._parse("until")
        self.custom = self.since is not None or self.until is not None
        self.period = period or (None if self.custom else self.DEFAULT)
        self._bounds: tuple[dt.datetime | None, dt.datetime | None] = (None, None)

    def _parse(self, name: str) -> dt.datetime | None:
        raw = self.used_parameters.get(name)
        if raw is None:
            return None
        value = parse_datetime(raw.replace(" ", "+"))
        if value is None:
            raise IncorrectLookupParameters(f"{name} must be an ISO 8601 date-time")
        return value if timezone.is_aware(value) else value.replace(tzinfo=dt.UTC)

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str]:
        return ["period", "since", "until"]

    def choices(self, changelist: ChangeList) -> Any:
        for code, (label, _) in self.PERIODS.items():
            yield {
                "selected": self.period == code,
                "query_string": changelist.get_query_string({"period": code}, ["since", "until"]),
                "display": label,
            }
        if self.custom:
            since = self.since.isoformat() if self.since else "…"
            until = self.until.isoformat() if self.until else "…"
            yield {
                "selected": True,
                "query_string": changelist.get_query_string(),
                "display": f"{since} → {until}",
            }

    def bounds(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        """The range applied by `queryset` (the window counted from the moment it ran)."""
        return self._bounds

    def queryset(self, request: HttpRequest, queryset: QuerySet[Run]) -> QuerySet[Run]:
        window = self.PERIODS[self.period][1] if self.period else None
        since = self.since
        if window is not None:
            start = timezone.now() - window
            since = start if since is None else max(since, start)
        if since is not None:
            queryset = queryset.filter(started_at__gte=since)
        if self.until is not None:
            queryset = queryset.filter(started_at__lt=self.until)
        self._bounds = (since, self.until)
        return queryset


class ProjectFilter(admin.SimpleListFilter):
    title = "project"
    parameter_name = "project"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[int, str]]:
        qs = TracingProject.objects.select_related("workspace__organization")
        ids = _scope_ids(request, model_admin)
        if ids is not None:
            qs = qs.filter(workspace_id__in=ids)
        return [(p.pk, f"{p.workspace} / {p.name}") for p in qs[:CHOICES_LIMIT]]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Run]) -> QuerySet[Run]:
        value = _int(self.value())
        return queryset if value is None else queryset.filter(project_id=value)


class KeyFilter(admin.SimpleListFilter):
    title = "API key"
    parameter_name = "key"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[int, str]]:
        qs = ApiKey.objects.order_by("-created_at")
        ids = _scope_ids(request, model_admin)
        if ids is not None:
            qs = qs.filter(workspace_id__in=ids)
        return [(k.pk, f"{k.display_prefix} {k.name}".strip()) for k in qs[:CHOICES_LIMIT]]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Run]) -> QuerySet[Run]:
        value = _int(self.value())
        return queryset if value is None else queryset.filter(key_id=value)


class UserFilter(admin.SimpleListFilter):
    title = "user"
    parameter_name = "user"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[int, str]]:
        users = get_user_model().objects.order_by("pk")
        ids = _scope_ids(request, model_admin)
        if ids is not None:
            members = WorkspaceMember.objects.filter(workspace_id__in=ids).values("user_id")
            users = users.filter(pk__in=members)
        return [(u.pk, u.get_username()) for u in users[:CHOICES_LIMIT]]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Run]) -> QuerySet[Run]:
        value = _int(self.value())
        return queryset if value is None else queryset.filter(user_id=value)


class ModelFilter(admin.SimpleListFilter):
    """Models seen in the latest runs of the user's scope (an index range read, never a
    DISTINCT over the whole table), plus the one currently selected."""

    title = "model"
    parameter_name = "model"
    RECENT = 2000

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        qs = Run.objects.order_by("-started_at", "-id")
        ids = _scope_ids(request, model_admin)
        if ids is not None:
            qs = qs.filter(workspace_id__in=ids)
        names = set(qs.values_list("model", flat=True)[: self.RECENT])
        if self.value():
            names.add(self.value())
        return [(n, n) for n in sorted(names) if n]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Run]) -> QuerySet[Run]:
        value = self.value()
        return queryset if value is None else queryset.filter(model=value)


class CustomerFilter(ModelFilter):
    """Customers (x-gateway-customer) seen in the latest runs of the user's scope, plus the one
    currently selected; `?customer=ID` filters on any customer."""

    title = "customer"
    parameter_name = "customer"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        qs = Run.objects.order_by("-started_at", "-id")
        ids = _scope_ids(request, model_admin)
        if ids is not None:
            qs = qs.filter(workspace_id__in=ids)
        names = set(qs.values_list("customer", flat=True)[: self.RECENT])
        if self.value():
            names.add(self.value())
        return [(n, n) for n in sorted(names) if n]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Run]) -> QuerySet[Run]:
        value = self.value()
        return queryset if value is None else queryset.filter(customer=value)
