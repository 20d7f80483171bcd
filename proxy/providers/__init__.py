"""Pure functions of each provider's wire format: upstream request, usage, error envelope.

One module per dialect (openai, anthropic, gemini), each exposing the same names; `get(dialect)`
returns the module. Nothing here does I/O.
"""

from __future__ import annotations

from types import ModuleType

from proxy.providers import anthropic, gemini, openai

DIALECTS: dict[str, ModuleType] = {"openai": openai, "anthropic": anthropic, "gemini": gemini}


def get(dialect: str) -> ModuleType:
    return DIALECTS[dialect]


def error_body(dialect: str, status: int, message: str) -> bytes:
    """`message` in `dialect`'s error envelope (OpenAI when the dialect is unknown)."""
    return DIALECTS.get(dialect, openai).error_body(status, message)
