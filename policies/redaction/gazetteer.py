"""The word lists the name and address detectors read: given names, surnames, common words.

Shipped as text files in policies/redaction/data (built by data/build_gazetteers.py from
Faker's locale data and wordfreq's English list; see that script for provenance). Loaded
once per process, on the scanner's first use, into frozensets (~70,000 entries, ~25 ms).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True, slots=True)
class Gazetteer:
    given: frozenset[str]  # "Maria", "Jean-Luc" (as written)
    surnames: frozenset[str]  # "Gonzalez", "O'Brien"
    common: frozenset[str]  # lower-case English words that are not names: "release", "will"
    name_words: frozenset[str] = frozenset()  # names that are frequent words: "Grace", "Chase"


def _read(name: str) -> frozenset[str]:
    text = (DATA / name).read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line)


@lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    return Gazetteer(
        given=_read("given_names.txt"),
        surnames=_read("surnames.txt"),
        common=_read("common_words.txt"),
        name_words=_read("name_words.txt"),
    )
