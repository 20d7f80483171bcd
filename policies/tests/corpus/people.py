"""Person names, street addresses and places for the evaluation corpus.

Two independent sources, so the figures do not only measure the detector's own gazetteer
(policies/redaction/data, built from Faker's locale data):
- the 1990 US census name lists shipped by the `names` package, drawn by frequency (a
  realistic mix: the common names most of the time, the long tail of 88,799 surnames too);
- Faker's person and address providers of 24 locales (the same source as the gazetteer for
  names; the address grammars in policies/redaction/addresses.py use no Faker data).
Seeded: the same seed gives the same values.
"""

from __future__ import annotations

import bisect
import random
from functools import lru_cache
from pathlib import Path

from faker import Faker

NAME_LOCALES = (
    "en_US",
    "en_GB",
    "en_IE",
    "en_IN",
    "de_DE",
    "fr_FR",
    "es_ES",
    "es_MX",
    "it_IT",
    "pt_BR",
    "nl_NL",
    "pl_PL",
    "sv_SE",
    "da_DK",
    "fi_FI",
    "cs_CZ",
    "tr_TR",
    "ro_RO",
    "id_ID",
    "vi_VN",
    "yo_NG",
    "sw",
    "zu_ZA",
    "hu_HU",
)
ADDRESS_LOCALES = (
    "en_US",
    "en_US",
    "en_US",
    "en_GB",
    "en_CA",
    "en_AU",
    "en_IE",
    "en_NZ",
    "de_DE",
    "de_AT",
    "de_CH",
    "fr_FR",
    "es_ES",
    "es_MX",
    "it_IT",
    "nl_NL",
    "pt_BR",
    "pt_PT",
    "pl_PL",
    "sv_SE",
    "da_DK",
    "no_NO",
    "fi_FI",
)


class _Census:
    """Frequency-weighted draws from the census lists (cumulative percentages in column 3)."""

    def __init__(self, path: Path) -> None:
        self.names: list[str] = []
        self.cumulative: list[float] = []
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3:
                self.names.append(_title(parts[0]))
                self.cumulative.append(float(parts[2]))

    def draw(self, r: random.Random) -> str:
        # Half by frequency, half uniformly over the list: the tail is where gazetteers miss.
        if r.random() < 0.5:
            at = bisect.bisect_left(self.cumulative, r.uniform(0, self.cumulative[-1]))
            return self.names[min(at, len(self.names) - 1)]
        return r.choice(self.names)


def _title(upper: str) -> str:
    name = upper.capitalize()
    if name.startswith("Mc") and len(name) > 3:
        name = "Mc" + name[2].upper() + name[3:]
    if name.startswith("O") and len(name) > 2 and upper[1:2] == "'":
        name = "O'" + name[2:].capitalize()
    return name


@lru_cache(maxsize=1)
def _census() -> tuple[_Census, _Census, _Census]:
    import names

    root = Path(names.__file__).parent
    return (
        _Census(root / "dist.male.first"),
        _Census(root / "dist.female.first"),
        _Census(root / "dist.all.last"),
    )


@lru_cache(maxsize=64)
def _faker(locale: str) -> Faker:
    return Faker(locale)


class People:
    def __init__(self, r: random.Random) -> None:
        self.r = r

    def _fake(self, locale: str) -> Faker:
        fake = _faker(locale)
        fake.seed_instance(self.r.getrandbits(32))
        return fake

    def first_last(self) -> tuple[str, str]:
        if self.r.random() < 0.5:
            male, female, last = _census()
            first = (male if self.r.random() < 0.5 else female).draw(self.r)
            return first, last.draw(self.r)
        fake = self._fake(self.r.choice(NAME_LOCALES))
        return fake.first_name(), fake.last_name()

    def person(self) -> str:
        first, last = self.first_last()
        roll = self.r.random()
        if roll < 0.12:
            return f"{first} {self.r.choice('ABCDEFGHJKLMNPRSTW')}. {last}"
        if roll < 0.2:
            second, _ = self.first_last()
            return f"{first} {second} {last}"
        return f"{first} {last}"

    def first_name(self) -> str:
        return self.first_last()[0]

    def last_name(self) -> str:
        return self.first_last()[1]

    def address(self) -> tuple[str, str, str]:
        """(street line, place line, locale): "1234 Main St Apt 5", "Springfield, IL 62704"."""
        locale = self.r.choice(ADDRESS_LOCALES)
        fake = self._fake(locale)
        street = " ".join(fake.street_address().split())
        while not any(c.isdigit() for c in street):  # a street name alone is not an address
            street = " ".join(fake.street_address().split())
        if locale == "pl_PL" and self.r.random() < 0.5:
            street = street.replace("ulica ", "ul. ")
        city = fake.city()
        postcode = fake.postcode()
        if locale in ("en_US", "en_CA", "en_AU"):
            state = fake.province_abbr() if locale == "en_CA" else fake.state_abbr()
            place = f"{city}, {state} {postcode}"
        elif locale in ("en_GB", "en_IE", "en_NZ"):
            place = f"{city} {postcode}" if self.r.random() < 0.5 else f"{city}, {postcode}"
        else:
            place = f"{postcode} {city}"
        return street, place, locale

    def city(self) -> str:
        return self._fake(self.r.choice(ADDRESS_LOCALES)).city()
