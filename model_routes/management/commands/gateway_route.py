"""manage.py gateway_route ORG/WS NAME --chain 'openai/gpt-4o-mini,anthropic/claude-haiku-4-5'
[--on 429,5xx,timeout,connect] [--alias PATTERN ...] [--params N=JSON ...] | --show | --delete
"""

from __future__ import annotations

from typing import Any

import orjson
from django.core.management.base import CommandError, CommandParser

from model_routes import services
from model_routes.models import ModelRoute
from orgs import services as org_services
from orgs.cli import GatewayCommand


class Command(GatewayCommand):
    help = (
        "Create or replace a workspace's named route: an ordered chain of PROVIDER/MODEL "
        "candidates, called as model route/NAME (or a model name matching an alias) on the "
        "unified endpoints; the next candidate is called when one fails before answering."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("workspace", metavar="ORG/WS")
        parser.add_argument("name", metavar="NAME")
        parser.add_argument("--chain", help="comma-separated PROVIDER/MODEL candidates, in order")
        parser.add_argument(
            "--on",
            default=None,
            help="when to try the next candidate: any of 429,5xx,timeout,connect (default: all)",
        )
        parser.add_argument(
            "--alias",
            action="append",
            default=None,
            help="a model name pattern (* and ?) meaning this route, e.g. 'claude-haiku-*' "
            "(repeat for more; --alias '' clears them)",
        )
        parser.add_argument(
            "--params",
            action="append",
            default=[],
            metavar="N=JSON",
            help="request fields candidate N (1-based) is called with, e.g. 2='{\"temperature\": 0}'",
        )
        parser.add_argument("--show", action="store_true", help="print the route")
        parser.add_argument("--delete", action="store_true", help="delete the route")

    def handle(self, *args: Any, **options: Any) -> None:
        ws = org_services.workspace_get_by_path(options["workspace"])
        name = options["name"]
        route = ModelRoute.objects.filter(workspace=ws, name=name).first()
        if options["show"] or options["delete"]:
            if route is None:
                raise CommandError(f"{ws} has no route named {name!r}")
            if options["delete"]:
                services.route_delete(route=route)
                self.stdout.write(f"{ws}: route/{name} deleted")
            else:
                self._print(ws, route)
            return
        if not options["chain"]:
            raise CommandError("--chain is required (comma-separated PROVIDER/MODEL candidates)")
        chain: list[dict[str, Any]] = [
            {"model": m.strip(), "params": {}} for m in options["chain"].split(",") if m.strip()
        ]
        for item in options["params"]:
            index, sep, text = item.partition("=")
            if not sep or not index.strip().isdigit() or not 1 <= int(index) <= len(chain):
                raise CommandError(
                    f"--params {item!r}: expected N=JSON with N from 1 to {len(chain)}"
                )
            try:
                chain[int(index) - 1]["params"] = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                raise CommandError(f"--params {item!r}: the value is not JSON") from exc
        fallback_on = options["on"].split(",") if options["on"] is not None else None
        aliases = options["alias"]
        if aliases is not None:
            aliases = [a for a in aliases if a.strip()]
        route = services.route_set(
            workspace=ws, name=name, chain=chain, fallback_on=fallback_on, aliases=aliases
        )
        self._print(ws, route)

    def _print(self, ws: Any, route: ModelRoute) -> None:
        aliases = f" aliases={','.join(route.aliases)}" if route.aliases else ""
        self.stdout.write(
            f"{ws}: route/{route.name} = {route.chain_display} "
            f"on={','.join(route.fallback_on)}{aliases}"
        )
