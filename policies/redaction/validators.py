"""Checks that turn a pattern match into a detection: checksums, ranges, entropy, placeholders.

Each function takes the matched value and answers whether it is really of its type. They are
what keeps code intact: a 16-digit id fails Luhn, a version string fails the octet check, a
variable reference or a type annotation is not a password.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import re
from collections import Counter
from collections.abc import Callable

import phonenumbers

# phonenumbers compiles its metadata's patterns on use through re.compile, whose cache (512
# entries) the metadata of all regions overflows: every validation then recompiles patterns
# (measured ~10 % of a scan). Its own cache keeps them compiled.
phonenumbers.enable_pattern_cache()

_IBAN_LENGTHS = {
    "AD": 24,
    "AE": 23,
    "AL": 28,
    "AT": 20,
    "AZ": 28,
    "BA": 20,
    "BE": 16,
    "BG": 22,
    "BH": 22,
    "BR": 29,
    "BY": 28,
    "CH": 21,
    "CR": 22,
    "CY": 28,
    "CZ": 24,
    "DE": 22,
    "DK": 18,
    "DO": 28,
    "EE": 20,
    "EG": 29,
    "ES": 24,
    "FI": 18,
    "FO": 18,
    "FR": 27,
    "GB": 22,
    "GE": 22,
    "GI": 23,
    "GL": 18,
    "GR": 27,
    "GT": 28,
    "HR": 21,
    "HU": 28,
    "IE": 22,
    "IL": 23,
    "IQ": 23,
    "IS": 26,
    "IT": 27,
    "JO": 30,
    "KW": 30,
    "KZ": 20,
    "LB": 28,
    "LC": 32,
    "LI": 21,
    "LT": 20,
    "LU": 20,
    "LV": 21,
    "MC": 27,
    "MD": 24,
    "ME": 22,
    "MK": 19,
    "MR": 27,
    "MT": 31,
    "MU": 30,
    "NL": 18,
    "NO": 15,
    "PK": 24,
    "PL": 28,
    "PS": 29,
    "PT": 25,
    "QA": 29,
    "RO": 24,
    "RS": 22,
    "SA": 24,
    "SC": 31,
    "SE": 24,
    "SI": 19,
    "SK": 24,
    "SM": 27,
    "ST": 25,
    "SV": 28,
    "TL": 23,
    "TN": 24,
    "TR": 26,
    "UA": 29,
    "VA": 22,
    "VG": 24,
    "XK": 20,
}


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


_CARD_PREFIX = re.compile(r"4|5[1-5]|2[2-7]|3[47]|3[0689]|35|6(?:011|5|4[4-9]|22)|62")


def credit_card_ok(value: str) -> bool:
    """13-19 digits with one kind of separator, a known issuer prefix and a valid Luhn sum."""
    separators = {c for c in value if not c.isdigit()}
    if len(separators) > 1:
        return False
    digits = value.replace(" ", "").replace("-", "")
    if not 13 <= len(digits) <= 19 or not _CARD_PREFIX.match(digits):
        return False
    # One digit repeated (4444444444444448) is filler; the issuers' published test numbers
    # (4111 1111 1111 1111, 5555 5555 5555 4444, 4242 4242 4242 4242) are written by people
    # as cards, and redacting one costs nothing.
    if len(set(digits[:-1])) == 1:
        return False
    return luhn_ok(digits)


def iban_ok(value: str) -> bool:
    compact = value.replace(" ", "")
    if _IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


def ssn_ok(value: str) -> bool:
    digits = value.replace("-", "").replace(" ", "")
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    return len(set(digits)) > 2


def ipv4_ok(value: str) -> bool:
    parts = value.split(".")
    if any(len(p) > 1 and p[0] == "0" for p in parts):
        return False  # zero-padded: a version or a date, not an address
    try:
        address = ipaddress.IPv4Address(value)
    except ValueError:
        return False
    if address.is_loopback or address.is_unspecified or address.is_multicast:
        return False
    return parts[0] != "255"  # netmasks and broadcast


def ipv6_ok(value: str) -> bool:
    groups = [g for g in value.split(":") if g]
    if len(groups) < 3 or not any(c.isdigit() for c in value):
        return False
    try:
        address = ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return not (address.is_loopback or address.is_unspecified)


# Verdicts of phone_ok by a digest of the value: the phone recognizers and the labelled-field
# checks often ask about the same value, and the process keeps no phone number to answer them.
_PHONE_VERDICTS: dict[bytes, bool] = {}
_PHONE_VERDICTS_MAX = 8192


def phone_ok(value: str, region: str | None = None) -> bool:
    """A valid number of `region` (or international)."""
    key = hashlib.blake2b(f"{region}\0{value}".encode(), digest_size=16).digest()
    verdict = _PHONE_VERDICTS.get(key)
    if verdict is None:
        verdict = _phone_ok(value, region)
        if len(_PHONE_VERDICTS) >= _PHONE_VERDICTS_MAX:
            _PHONE_VERDICTS.clear()
        _PHONE_VERDICTS[key] = verdict
    return verdict


def _phone_ok(value: str, region: str | None) -> bool:
    digits = sum(c.isdigit() for c in value)
    # "+290 8919": the smallest numbering plans have 4-digit subscriber numbers.
    if not (7 if value.startswith("+") else 8) <= digits <= 15:
        return False
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number)


def shannon_entropy(value: str) -> float:
    counts = Counter(value)
    length = len(value)
    return -sum(n / length * math.log2(n / length) for n in counts.values())


_PLACEHOLDER_VALUES = re.compile(
    r"(?i)^(?:x{3,}|\*{3,}|\.{3,}|-+|_+|#+|changeme|change[_-]?me|secret|password|passwd|pass|"
    r"token|none|null|nil|true|false|undefined|empty|redacted|example|dummy|placeholder|todo|"
    r"str|string|bytes|int|bool|any|optional|secretstr|required|hidden|masked|"
    r"your[_-].*|my[_-]?(?:password|token|secret|key)|<.*>|\[.*\]|\{.*\}|\(.*\)|"
    r"(?:test|fake|sample)[_-]?(?:password|token|secret|key)?|\w*_here|.*\.\.\.)$"
)
_REFERENCE = re.compile(
    r"^(?:\$|%\(|%\w+%|@\w+@|&|\{|<|env[.:\[(]|os\.|process\.env|ENV\[|getenv|config\.|settings\.|self\.|"
    r"this\.|params\.|args\.|options\.|opts\.|cfg\.|vault:|secretsmanager:|arn:|ref\+|"
    r"!(?:ref|sub|getatt|secret|vault|env)|\w+\(|.*\$\{)",
    re.IGNORECASE,
)
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DOTTED_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z_]*(?:\.[A-Za-z_]\w*)+$")
_PLAIN_IDENTIFIER = re.compile(r"^[A-Za-z_]+$")
_REPEATED = re.compile(r"^(.)\1+$")


def _looks_like_reference(value: str) -> bool:
    return bool(
        _PLACEHOLDER_VALUES.match(value)
        or _REFERENCE.match(value)
        or (_DOTTED_IDENTIFIER.match(value) and all(identifier_like(p) for p in value.split(".")))
        or _REPEATED.match(value)
        or value.startswith("[REDACTED:")
    )


_CASE_PARTS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def identifier_like(value: str) -> bool:
    """A name a programmer would write: `user_password`, `DB_PASS`, `userPassword`,
    `PasswordResetForm`; not `tWaJLRRTfMTEhOnPCmD` (random case changes)."""
    if not _PLAIN_IDENTIFIER.match(value.replace("_", "a")):
        return False
    bare = value.replace("_", "")
    if bare.islower() or bare.isupper():
        return True
    parts = _CASE_PARTS.findall(bare)
    return len(parts) <= 5 and all(len(p) >= 2 for p in parts)


def port_or_number(value: str) -> bool:
    """`3306`, `8080:80`, `1.2.3`: what follows `-p` when it is a port or a version."""
    return all(c.isdigit() or c in ":.-/" for c in value)


def password_value_ok(value: str, *, quoted: bool) -> bool:
    """A literal password: not a reference, a placeholder or (unquoted) a variable name."""
    if len(value) < 6 or _looks_like_reference(value):
        return False
    if not quoted and identifier_like(value):
        return False  # `password=user_password` in code: a variable, not a literal
    if _PATH_OR_URL.match(value) and not quoted:
        return False
    return not value.isdigit() or len(value) >= 8


def secret_value_ok(value: str, *, quoted: bool) -> bool:
    """A literal token/key: long enough, varied enough, not a reference or a word."""
    if len(value) < 12 or _looks_like_reference(value):
        return False
    # map() over the str methods: the same tests as a generator, at C speed (values are up to
    # 2 KB long and this runs for every named value of a block).
    classes = sum(
        (
            any(map(str.islower, value)),
            any(map(str.isupper, value)),
            any(map(str.isdigit, value)),
            not value.isalnum(),
        )
    )
    if classes < 2 or shannon_entropy(value) < 3.0:
        return False
    if " " in value:
        return False
    if not quoted and identifier_like(value):
        return False
    if _UUID.match(value):
        return False
    return not _PATH_OR_URL.match(value)


_PATH_OR_URL = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*://|(?:/|\./|\.\./|~/)[\w.-]+(?:/[\w.-]+)*/?$|[A-Za-z]:\\)"
    r"|\.(?:json|ya?ml|pem|key|crt|txt|env|p12|cfg|ini)$"
)


def random_token_ok(value: str) -> bool:
    """A bare quoted string that is a random token: mixed case and digits, high entropy."""
    upper = sum(map(str.isupper, value))
    lower = sum(map(str.islower, value))
    digits = sum(map(str.isdigit, value))
    return (
        upper >= 3
        and lower >= 3
        and (digits >= 1 or len(value) >= 32)
        and shannon_entropy(value) >= 4.0
    )


def url_password_ok(value: str) -> bool:
    """The password part of `scheme://user:PASSWORD@host`."""
    if not value or _looks_like_reference(value) or value.lower() in ("password", "pass", "pwd"):
        return False
    return not value.isdigit()  # `host:5432@...` never, and `user:1234@` is a port-like artefact


# ---- national identifiers (checksums from python-stdnum where the number has one) -------------

_NINO = re.compile(
    r"^([A-CEGHJ-PR-TW-Z])([A-CEGHJ-NPR-TW-Z])\s?(\d{2})\s?(\d{2})\s?(\d{2})\s?([A-D])$"
)
_NINO_BAD_PREFIXES = frozenset({"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"})


def nino_ok(value: str) -> bool:
    """UK National Insurance number: two letters (not D, F, I, Q, U, V; O not second; not BG,
    GB, NK, KN, TN, NT, ZZ), six digits, A-D. No checksum exists."""
    match = _NINO.match(value.upper() if value.isupper() else value)
    return match is not None and match.group(1) + match.group(2) not in _NINO_BAD_PREFIXES


def ca_sin_ok(value: str) -> bool:
    from stdnum.ca import sin

    digits = value.replace(" ", "").replace("-", "")
    return len(digits) == 9 and digits.isdigit() and digits[0] not in "08" and sin.is_valid(digits)


def aadhaar_ok(value: str) -> bool:
    from stdnum.in_ import aadhaar

    digits = value.replace(" ", "").replace("-", "")
    return len(digits) == 12 and aadhaar.is_valid(digits) and len(set(digits)) > 3


def in_pan_ok(value: str) -> bool:
    from stdnum.in_ import pan

    return len(value) == 10 and value.isupper() and pan.is_valid(value)


def es_nif_ok(value: str) -> bool:
    from stdnum.es import dni, nie

    compact = value.replace("-", "").replace(" ", "").upper()
    if len(compact) != 9:
        return False
    if compact[0] in "XYZ":
        return nie.is_valid(compact)
    return compact[:8].isdigit() and dni.is_valid(compact)


def it_fiscal_code_ok(value: str) -> bool:
    from stdnum.it import codicefiscale

    return len(value) == 16 and value.isalnum() and codicefiscale.is_valid(value.upper())


def br_cpf_ok(value: str) -> bool:
    from stdnum.br import cpf

    digits = value.replace(".", "").replace("-", "").replace(" ", "")
    return len(digits) == 11 and digits.isdigit() and len(set(digits)) > 2 and cpf.is_valid(digits)


def basic_credentials(value: str) -> bool:
    """Base64 of "user:password" (HTTP Basic, Docker's config.json `auth`)."""
    import base64
    import binascii

    if len(value) < 8 or len(value) % 4 or not re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", value):
        return False
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    user, sep, password = decoded.partition(":")
    return bool(sep and user and password) and decoded.isprintable()


def _stdnum_ok(module: str, value: str, *, strip: str = " -.") -> bool:
    """`value` (separators `strip` removed) is valid for stdnum's `module` (its checksum and
    the parts it can check: a date of birth, a region)."""
    import importlib

    compact = value.translate({ord(c): None for c in strip})
    if len(set(compact)) < 3:  # 000000000, 111-11-1111: filler
        return False
    return bool(importlib.import_module(f"stdnum.{module}").is_valid(compact))


def checked(module: str, *, strip: str = " -.") -> Callable[[str], bool]:
    """The validity check of stdnum's `module`, for a table of identifiers."""
    return lambda value: _stdnum_ok(module, value, strip=strip)


def document_number_ok(value: str) -> bool:
    """A passport or driving licence number after its label: no checksum is common to the
    issuers; at least five digits, not one digit repeated."""
    digits = [c for c in value if c.isdigit()]
    return len(digits) >= 5 and len(set(digits)) > 1


# The IRS's ranges of an ITIN's fourth and fifth digits (50-65 since 2011, which python-stdnum
# does not know yet); an ITIN has no check digit.
_ITIN_GROUPS = frozenset({*range(50, 66), *range(70, 89), 90, 91, 92, *range(94, 100)})


def us_itin_ok(value: str) -> bool:
    digits = value.replace("-", "").replace(" ", "")
    return (
        len(digits) == 9
        and digits.isdigit()
        and digits[0] == "9"
        and int(digits[3:5]) in _ITIN_GROUPS
        and len(set(digits)) > 2
    )
