"""Writes of model routes (validated, audit-logged); the proxy reads them through its snapshot."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from model_routes.models import FALLBACK_ON, NAME_RE, PROVIDER_PREFIXES, ModelRoute
from orgs.services import audit_record

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from orgs.models import Workspace

_ALIAS_RE = re.compile(r"^[A-Za-z0-9._*?/:-]{1,200}$")
MAX_CANDIDATES = 10


def chain_check(chain: Any) -> list[dict[str, Any]]:
    """The chain, each candidate {"model": "PROVIDER/MODEL", "params": {...}}; ValidationError
    naming the first bad candidate otherwise."""
    if not isinstance(chain, list) or not chain:
        raise ValidationError("a route needs at least one candidate model")
    if len(chain) > MAX_CANDIDATES:
        raise ValidationError(f"a route has at most {MAX_CANDIDATES} candidates")
    out = []
    for index, candidate in enumerate(chain, 1):
        if isinstance(candidate, str):
            candidate = {"model": candidate}
        if not isinstance(candidate, dict):
            raise ValidationError(f"candidate {index} must be PROVIDER/MODEL")
        model = str(candidate.get("model") or "").strip()
        prefix, sep, name = model.partition("/")
        if not sep or not name or prefix not in PROVIDER_PREFIXES:
            raise ValidationError(
                f"candidate {index} ({model!r}) must be PROVIDER/MODEL with PROVIDER one of "
                + ", ".join(PROVIDER_PREFIXES)
            )
        params = candidate.get("params") or {}
        if not isinstance(params, dict) or "model" in params or "stream" in params:
            raise ValidationError(
                f"candidate {index}: params must be an object of request fields (not model or stream)"
            )
        out.append({"model": model, "params": params})
    return out


def fallback_on_check(fallback_on: Any) -> list[str]:
    values = [str(v).strip().lower() for v in fallback_on or []]
    unknown = [v for v in values if v not in FALLBACK_ON]
    if unknown:
        raise ValidationError(
            f"unknown fallback condition {unknown[0]!r} (one of {', '.join(FALLBACK_ON)})"
        )
    return [v for v in FALLBACK_ON if v in values]


def aliases_check(*, workspace: Workspace, name: str, aliases: Any) -> list[str]:
    values = [str(a).strip() for a in aliases or [] if str(a).strip()]
    for alias in values:
        if not _ALIAS_RE.match(alias):
            raise ValidationError(f"alias {alias!r}: letters, digits and . _ - / : * ? only")
    taken = (
        ModelRoute.objects.filter(workspace=workspace)
        .exclude(name=name)
        .values_list("name", "aliases")
    )
    for other, patterns in taken:
        clash = set(values) & set(patterns or [])
        if clash:
            raise ValidationError(f"alias {sorted(clash)[0]!r} already names route/{other}")
    return values


def _state(route: ModelRoute) -> dict[str, Any]:
    return {"chain": route.chain, "fallback_on": route.fallback_on, "aliases": route.aliases}


@transaction.atomic
def route_set(
    *,
    workspace: Workspace,
    name: str,
    chain: Any,
    fallback_on: Any = None,
    aliases: Any = None,
    actor: AbstractBaseUser | None = None,
) -> ModelRoute:
    """Create or replace the route `name` of `workspace`. fallback_on=None keeps the current
    conditions (all of them for a new route); aliases=None keeps the current aliases."""
    if not re.match(NAME_RE, name or ""):
        raise ValidationError("a route name is 1-100 letters, digits, '.', '_' or '-'")
    route = ModelRoute.objects.select_for_update().filter(workspace=workspace, name=name).first()
    before = None if route is None else _state(route)
    if route is None:
        route = ModelRoute(workspace=workspace, name=name)
    route.chain = chain_check(chain)
    if fallback_on is not None:
        route.fallback_on = fallback_on_check(fallback_on)
    if aliases is not None:
        route.aliases = aliases_check(workspace=workspace, name=name, aliases=aliases)
    route.updated_at = timezone.now()
    route.updated_by = actor if actor is not None and actor.is_authenticated else None
    route.save()
    audit_record(
        action="model_route.set" if before is None else "model_route.update",
        obj=route,
        actor=actor,
        organization=workspace.organization,
        workspace=workspace,
        before=before,
        after=_state(route),
    )
    return route


@transaction.atomic
def route_delete(*, route: ModelRoute, actor: AbstractBaseUser | None = None) -> None:
    audit_record(
        action="model_route.delete",
        obj=route,
        actor=actor,
        organization=route.workspace.organization,
        workspace=route.workspace,
        before=_state(route),
    )
    route.delete()
