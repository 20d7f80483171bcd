"""The routes table the proxy reads per call (hotpath.snapshot, topic "routes"): immutable,
loaded off the event loop, current within 100 ms of any change."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RouteSpec:
    name: str
    candidates: tuple[tuple[str, dict], ...]  # (PROVIDER/MODEL, parameter overrides)
    fallback_on: frozenset[str]


@dataclass(frozen=True, slots=True)
class WorkspaceRoutes:
    routes: dict[str, RouteSpec]
    aliases: tuple[tuple[str, str], ...]  # (pattern, route name), in name order

    def aliased(self, model: str) -> RouteSpec | None:
        """The route whose alias pattern matches `model`, if any (case-sensitive)."""
        for pattern, name in self.aliases:
            if fnmatch.fnmatchcase(model, pattern):
                return self.routes[name]
        return None


RouteTable = dict[int, WorkspaceRoutes]  # workspace id → its routes


def load_route_table() -> RouteTable:
    from model_routes.models import ModelRoute

    grouped: dict[int, list[ModelRoute]] = {}
    for route in ModelRoute.objects.order_by("workspace_id", "name"):
        grouped.setdefault(route.workspace_id, []).append(route)
    table: RouteTable = {}
    for workspace_id, routes in grouped.items():
        specs = {
            r.name: RouteSpec(
                name=r.name,
                candidates=tuple((c["model"], dict(c.get("params") or {})) for c in r.chain),
                fallback_on=frozenset(r.fallback_on or ()),
            )
            for r in routes
        }
        aliases = tuple((a, r.name) for r in routes for a in r.aliases or ())
        table[workspace_id] = WorkspaceRoutes(routes=specs, aliases=aliases)
    return table
