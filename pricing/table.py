"""Prices and usage as plain data, and the in-process snapshot the proxy prices calls from.

`Price` and `Usage` are the contract between the proxy, the spend policies and tracing
(docs/architecture.md §6). Nothing here touches the database except `PriceTable.load`, which
the proxy calls from its refresh thread, never on the request path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A dated or versioned snapshot of a priced model: gpt-4o-2024-08-06, claude-3-5-haiku-20241022,
# gemini-2.5-flash-001, o3-mini-latest. Only these suffixes inherit a base price: `gpt-5-pro` must
# not be priced as `gpt-5`.
_SNAPSHOT_SUFFIX_RE = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8}|\d{3}|latest)$")


@dataclass(frozen=True, slots=True)
class Price:
    """USD per 1M tokens of each type. Cache read/write default to the input price."""

    model: str
    provider: str
    input: float
    output: float
    cache_read: float
    cache_write: float
    max_output_tokens: int | None = None
    context_window: int | None = None


@dataclass(slots=True)
class Usage:
    """Tokens of one call, normalised across providers the way OpenTelemetry's GenAI
    conventions and LangSmith count them, so every tool that reads a run agrees:

    - input_tokens: every input token, cache reads and cache writes included (OpenAI's
      prompt_tokens and Gemini's promptTokenCount already are; Anthropic's input_tokens is only
      the uncached part, so its parser adds the cache counts);
    - output_tokens: every output token, reasoning and audio included;
    - cache_read_tokens / cache_write_tokens: the part of input_tokens read from / written to
      the provider's prompt cache (each has its own price);
    - reasoning_tokens: the part of output_tokens spent on reasoning;
    - audio_input_tokens / audio_output_tokens: the audio part of input / output tokens.
    The breakdowns are informational parts of the totals, never added to them.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    audio_input_tokens: int = 0
    audio_output_tokens: int = 0

    @property
    def uncached_input_tokens(self) -> int:
        """Input tokens billed at the full input price."""
        return max(self.input_tokens - self.cache_read_tokens - self.cache_write_tokens, 0)


def cost(price: Price, usage: Usage) -> float:
    """USD cost of `usage` at `price` (rounded to 1e-9 so sums stay readable): uncached input at
    the input price, cache reads and writes at theirs, output (reasoning included) at the output
    price."""
    total = (
        usage.uncached_input_tokens * price.input
        + usage.output_tokens * price.output
        + usage.cache_read_tokens * price.cache_read
        + usage.cache_write_tokens * price.cache_write
    ) / 1_000_000
    return round(total, 9)


def normalise_model(model: str) -> str:
    """`models/gemini-2.5-flash` → `gemini-2.5-flash`; surrounding whitespace dropped."""
    model = model.strip()
    return model.removeprefix("models/")


class PriceTable:
    """An immutable model → Price snapshot. The proxy swaps in a new one on refresh."""

    __slots__ = ("_prices",)

    def __init__(self, prices: dict[str, Price] | None = None) -> None:
        self._prices: dict[str, Price] = dict(prices or {})

    def __len__(self) -> int:
        return len(self._prices)

    def get(self, model: str) -> Price | None:
        """The price of `model`, or of its base model when `model` is a dated snapshot."""
        if not model:
            return None
        name = normalise_model(model)
        price = self._prices.get(name)
        if price is not None:
            return price
        match = _SNAPSHOT_SUFFIX_RE.search(name)
        if match is not None:
            return self._prices.get(name[: match.start()])
        return None

    @classmethod
    def load(cls) -> PriceTable:
        """Read every ModelPrice row (sync ORM: call from a worker thread, not the event loop)."""
        from pricing.models import ModelPrice

        prices = {}
        for row in ModelPrice.objects.all():
            input_price = float(row.input_per_mtok)
            prices[row.model] = Price(
                model=row.model,
                provider=row.provider,
                input=input_price,
                output=float(row.output_per_mtok),
                cache_read=input_price
                if row.cache_read_per_mtok is None
                else float(row.cache_read_per_mtok),
                cache_write=input_price
                if row.cache_write_per_mtok is None
                else float(row.cache_write_per_mtok),
                max_output_tokens=row.max_output_tokens,
                context_window=row.context_window,
            )
        return cls(prices)
