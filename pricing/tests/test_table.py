from __future__ import annotations

import pytest

from pricing.models import ModelPrice
from pricing.table import Price, PriceTable, Usage, cost


def _price(**kw: float) -> Price:
    base = dict(
        model="m", provider="openai", input=2.0, output=8.0, cache_read=0.5, cache_write=2.0
    )
    base.update(kw)
    return Price(**base)  # type: ignore[arg-type]


def test_it_prices_each_token_type_per_million() -> None:
    usage = Usage(
        input_tokens=3_000_000,  # every input token: 1M uncached + 2M read from the cache
        output_tokens=500_000,
        cache_read_tokens=2_000_000,
        cache_write_tokens=0,
    )
    assert cost(_price(), usage) == pytest.approx(2.0 + 4.0 + 1.0)


def test_it_charges_cache_writes_at_their_own_price() -> None:
    usage = Usage(input_tokens=1_000_000, cache_write_tokens=1_000_000)
    assert cost(_price(cache_write=3.75), usage) == pytest.approx(3.75)


def test_zero_usage_costs_zero() -> None:
    assert cost(_price(), Usage()) == 0.0


def test_snapshot_names_inherit_the_base_price_but_other_suffixes_do_not() -> None:
    table = PriceTable(
        {"gpt-4o": _price(model="gpt-4o"), "claude-sonnet-4-5": _price(model="claude-sonnet-4-5")}
    )
    assert table.get("gpt-4o-2024-08-06").model == "gpt-4o"
    assert table.get("claude-sonnet-4-5-20250929").model == "claude-sonnet-4-5"
    assert table.get("models/gpt-4o").model == "gpt-4o"
    assert table.get("gpt-4o-pro") is None
    assert table.get("unknown-model") is None
    assert table.get("") is None


@pytest.mark.django_db
def test_the_seeded_table_has_dated_prices_for_every_provider() -> None:
    providers = set(ModelPrice.objects.values_list("provider", flat=True))
    assert providers == {"openai", "anthropic", "gemini", "bedrock", "azure"}
    assert not ModelPrice.objects.filter(price_date__isnull=True).exists()
    table = PriceTable.load()
    sonnet = table.get("claude-sonnet-4-5-20250929")
    assert sonnet is not None and sonnet.input == 3.0 and sonnet.cache_write == 3.75
    mini = table.get("gpt-4o-mini")
    assert mini is not None and mini.cache_write == mini.input  # empty cache write = input price
    assert table.get("gemini-2.5-flash") is not None
