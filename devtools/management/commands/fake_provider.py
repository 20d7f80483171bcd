"""`manage.py fake_provider --port N`: serve the fake OpenAI/Anthropic/Gemini provider."""

from __future__ import annotations

import asyncio
from typing import Any

from django.core.management.base import CommandParser

from devtools.fake_provider import start_fake_provider
from orgs.cli import GatewayCommand


class Command(GatewayCommand):
    help = (
        "Serve the built-in fake model provider (OpenAI, Anthropic and Gemini formats) on loopback."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8099)
        parser.add_argument(
            "--no-record", action="store_true", help="do not keep requests (benchmarks)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        serve = self._serve(options["host"], options["port"], record=not options["no_record"])
        try:
            import uvloop
        except ImportError:
            asyncio.run(serve)
        else:
            uvloop.run(serve)

    async def _serve(self, host: str, port: int, *, record: bool) -> None:
        runner, _, bound = await start_fake_provider(host, port, record=record)
        self.stdout.write(
            f"fake provider on http://{host}:{bound} (GET /__fake/requests lists requests)"
        )
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()
