"""Rebuild the name gazetteers and the common-word list shipped in this folder (a dev tool).

    python policies/redaction/data/build_gazetteers.py

Needs Faker and wordfreq (requirements-dev.txt); the gateway itself only reads the text
files this writes, so nothing is downloaded or derived at run time.

- given_names.txt, surnames.txt: every Latin-script first and last name (romanized ones
  included) of Faker's person providers, all locales (Faker is MIT-licensed), minus the
  names that are mostly English words ("Said", "Case", "Line", "Server", "Street"...: a name
  of some locale whose lower-case form is a frequent English word, and which is not one of
  the usual English given names or surnames);
- common_words.txt: the English words with a Zipf frequency ≥ 2.9 in wordfreq's lists
  (about the 32,000 most frequent; word list data CC BY-SA 4.0, by Robyn Speer and the
  wordfreq contributors), minus the names kept above, plus those word-like names: words a
  capitalised run made of is a title or a phrase, not a person;
- name_words.txt: the names kept above whose lower-case form is a frequent English word too
  ("Grace", "Frank", "Mark", "Chase", "Bridge"; Zipf frequency ≥ 4.0): a run that starts
  with one and goes on with common words is more often a phrase ("Grace Period", "Chase
  Payment") than a person.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
_LATIN = re.compile(r"^[^\W\d_][^\W\d_'’.-]*(?:['’-][^\W\d_]+)*$")
COMMON_ZIPF = 2.9
WORDLIKE_ZIPF = 4.0
ENGLISH_LOCALES = ("en_US", "en_GB", "en_IE", "en_AU", "en_CA", "en_NZ", "en")


def _values(value: object) -> set[str]:
    if isinstance(value, dict):
        return {str(k) for k in value}
    if isinstance(value, list | tuple | set | frozenset):
        return {str(v) for v in value}
    return set()


def _latin(name: str) -> bool:
    return bool(_LATIN.match(name)) and all(ord(c) < 0x250 or c in "'’" for c in name)


def faker_names() -> tuple[set[str], set[str], set[str]]:
    """(given names, surnames, names of the English-speaking locales)."""
    from faker.providers import person

    given: set[str] = set()
    surnames: set[str] = set()
    english: set[str] = set()
    for module in pkgutil.iter_modules(person.__path__):
        try:
            provider = importlib.import_module(f"faker.providers.person.{module.name}").Provider
        except (ImportError, AttributeError):
            continue
        for attr in dir(provider):
            if "format" in attr:
                continue
            is_given = attr.startswith(("first_name", "first_romanized"))
            is_surname = attr.startswith(("last_name", "last_romanized"))
            if not (is_given or is_surname):
                continue
            names = {n.strip() for n in _values(getattr(provider, attr)) if _latin(n.strip())}
            names = {n for n in names if len(n) >= 2 and n[0].isupper() and not n.isupper()}
            (given if is_given else surnames).update(names)
            if module.name in ENGLISH_LOCALES:
                english.update(names)
    return given, surnames, english


def main() -> None:
    from spacy.lang.en.stop_words import STOP_WORDS
    from wordfreq import top_n_list, zipf_frequency

    given, surnames, english = faker_names()
    wordlike = {
        n
        for n in given | surnames
        if n not in english
        and (zipf_frequency(n.lower(), "en") >= WORDLIKE_ZIPF or n.lower() in STOP_WORDS)
    }
    wordlike |= {n for n in english if n.lower() in STOP_WORDS}
    given -= wordlike
    surnames -= wordlike
    names_lower = {n.lower() for n in given | surnames}
    common = {
        w
        for w in top_n_list("en", 60000)
        if w.isalpha() and zipf_frequency(w, "en") >= COMMON_ZIPF and w not in names_lower
    }
    common |= {n.lower() for n in wordlike} | set(STOP_WORDS)
    name_words = {n for n in given | surnames if zipf_frequency(n.lower(), "en") >= WORDLIKE_ZIPF}
    for name, values in (
        ("given_names.txt", given),
        ("surnames.txt", surnames),
        ("common_words.txt", common),
        ("name_words.txt", name_words),
    ):
        (HERE / name).write_text("\n".join(sorted(values)) + "\n", encoding="utf-8")
        print(f"{name}: {len(values)}")  # noqa: T201 (a dev tool reporting what it wrote)


if __name__ == "__main__":
    main()
