"""The check a labelled value passes before it is redacted (policies.redaction.fields).

`check(type, text, start, end, generic=...)` answers the span to redact (the value trimmed of
spaces, quotes and trailing punctuation) or None. A label makes the shape acceptable, never
the content: a number under `ssn` still has to be a possible SSN, a phone number a possible
number, an `address` a postal address and not `0.0.0.0:8080`.
"""

from __future__ import annotations

import re

from policies.redaction import validators as v
from policies.redaction.gazetteer import gazetteer

_PHONE_CHARS = re.compile(r"^\+?[\d\s().\-/]{6,24}(?:\s*(?:x|ext\.?)\s*\d{1,5})?$")
_DATE_LIKE = re.compile(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}$|^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}$")
_PARTICLES = frozenset(
    "van von der den de del della di da das do dos du la le bin binti ibn al el ter ten y e".split()
)
_INITIAL = re.compile(r"[A-Z]\.?")
_LETTERS = re.compile(r"[^\W\d_]{3,}")
_HOSTISH = re.compile(r"^[\w.-]+(?::\d+)?$|://|^[\w.+-]+@[\w.-]+$|^\$|^\{\{|^<")
_CITY = re.compile(r"^[^\W\d_][\w'’. -]{0,60}$", re.UNICODE)
_POSTCODE_CITY = re.compile(
    r"^(?:[A-Z]{1,2}-?)?\d{2,8}(?:[ -]\d{2,4})?(?:[ ]?[A-Z]{2})?[ ,]+[^\W\d_][\w'’. -]{1,60}$"
)
_CITY_POSTCODE = re.compile(r"^[^\W\d_][\w'’. -]{0,50},?[ ][\w -]{2,12}$")
_REFERENCE = re.compile(r"^(?:\$\{?|%\(|\{\{|<%|env\(|process\.env|os\.environ|ENV\[)")


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start] in " \t\"'`":
        start += 1
    while end > start and text[end - 1] in " \t\"'`.,;:\r":
        end -= 1
    return start, end


def check(
    type_: str, text: str, start: int, end: int, *, generic: bool = False
) -> tuple[int, int] | None:
    start, end = _trim(text, start, end)
    if end - start < 2:
        return None
    value = text[start:end]
    if _REFERENCE.match(value) or value.startswith("[REDACTED:"):
        return None
    checker = _CHECKS.get(type_)
    if checker is None:
        return None
    return (start, end) if checker(value, generic) else None


def _digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def _ssn(value: str, generic: bool) -> bool:
    compact = value.replace("-", "").replace(" ", "")
    return len(compact) == 9 and compact.isdigit() and v.ssn_ok(compact)


def _phone(value: str, generic: bool) -> bool:
    if not _PHONE_CHARS.match(value) or _DATE_LIKE.match(value):
        return False
    digits = _digits(value)
    if not 6 <= len(digits) <= 15 or len(set(digits)) < 3:
        return False
    if value.startswith(("+", "00")):
        return v.phone_ok(value if value.startswith("+") else "+" + value[2:].lstrip())
    return True


def person_ok(value: str, *, generic: bool) -> bool:
    """1-5 words, each capitalised (or particles and initials), not all common words; under a
    generic label ("name", "owner") at least one word must be a known given name or surname."""
    if len(value) > 80 or any(c.isdigit() for c in value) or "@" in value or "_" in value:
        return False
    words = value.replace(",", " ").split()
    if not 1 <= len(words) <= 5:
        return False
    lists = gazetteer()
    real = [w for w in words if w.lower() not in _PARTICLES and not _INITIAL.fullmatch(w)]
    if not real:
        return False
    for word in real:
        if not word[0].isupper() or not all(c.isalpha() or c in "'’-." for c in word):
            return False
        if word.isupper() and len(word) > 3 and generic:
            return False
    common = [w for w in real if all(p.lower() in lists.common for p in w.split("-"))]
    known = [w for w in real if w in lists.given or w in lists.surnames]
    if generic:
        if len(real) >= 2 and len(common) < len(real):
            # Two words or more where one may be an English word too: "Per Svensson",
            # "Harsh Rai", "Marci Temple", when a known given name starts it or a known
            # surname ends it.
            return real[0] in lists.given or (real[-1] in lists.surnames and real[-1] not in common)
        return bool(known) and not common and (len(real) >= 2 or real[0] in lists.given)
    # A name column or key ("first_name", "surname"): common words are names there too
    # ("Grace", "Hope", "Will"), unless every word is.
    return len(real) == 1 or len(common) < len(real)


def _person(value: str, generic: bool) -> bool:
    return person_ok(value, generic=generic)


def _address(value: str, generic: bool) -> bool:
    if not 6 <= len(value) <= 160 or _HOSTISH.search(value) or any(c in value for c in '{}[]"='):
        return False
    if not any(c.isdigit() for c in value) or " " not in value:
        return False
    words = _LETTERS.findall(value)
    if not words:
        return False
    return not v.ipv4_ok(value.split(":")[0]) and ":" not in value.replace(": ", " ")


def _location(value: str, generic: bool) -> bool:
    if _POSTCODE_CITY.match(value):
        return True
    if _CITY_POSTCODE.match(value) and any(c.isdigit() for c in value) and value[0].isupper():
        return True  # "Springfield, IL 62704", "London SW1A 2AA"
    if not _CITY.match(value) or value.islower():
        return False
    words = value.split()
    return 1 <= len(words) <= 5 and all(w[:1].isupper() or w.lower() in _PARTICLES for w in words)


def _nino(value: str, generic: bool) -> bool:
    return v.nino_ok(value)


def _sin(value: str, generic: bool) -> bool:
    return v.ca_sin_ok(value)


def _aadhaar(value: str, generic: bool) -> bool:
    return v.aadhaar_ok(value)


def _pan(value: str, generic: bool) -> bool:
    return v.in_pan_ok(value)


def _es(value: str, generic: bool) -> bool:
    return v.es_nif_ok(value)


def _cf(value: str, generic: bool) -> bool:
    return v.it_fiscal_code_ok(value)


def _cpf(value: str, generic: bool) -> bool:
    return v.br_cpf_ok(value)


def _secret(value: str, generic: bool) -> bool:
    """A password or token column: any literal that is not a reference or a placeholder."""
    return v.password_value_ok(value, quoted=True)


_CHECKS = {
    "SECRET": _secret,
    "US_SSN": _ssn,
    "PHONE": _phone,
    "PERSON": _person,
    "ADDRESS": _address,
    "LOCATION": _location,
    "UK_NINO": _nino,
    "CA_SIN": _sin,
    "IN_AADHAAR": _aadhaar,
    "IN_PAN": _pan,
    "ES_NIF": _es,
    "IT_FISCAL_CODE": _cf,
    "BR_CPF": _cpf,
}
