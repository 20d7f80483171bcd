"""Personal data found by its own shape or by the words before it: dates of birth, bank account
numbers and crypto wallet addresses.

- A date of birth is a date right after its label (`DOB:`, `date of birth`, `born on`,
  `"birth_date": "…"`, `Geburtsdatum`, `fecha de nacimiento`, `date de naissance`…): a date
  alone is not personal, a birth date is.
- A bank account number is a run of digits right after its label (`account number`, `acct
  no.`, `A/C`, `Kontonummer`, `sort code`…): a bare number is an order or an invoice.
- A Bitcoin or Litecoin address is found anywhere when its checksum holds (base58check's
  double SHA-256, bech32's and bech32m's polynomial); an Ethereum address (no checksum in lower
  case) only after a word that says so (`ETH`, `wallet`, `send to`…): a 40-hex string after
  `0x` is also a contract or a hash in code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re

from policies.redaction import keywords
from policies.redaction.contextual import ContextRecognizer, windows

_MONTHS = (
    "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    "sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_MONTH_NUMBER = {
    name[:3]: i
    for i, name in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), start=1)
}

# ---- dates of birth ------------------------------------------------------------------------

_DOB_LABEL = re.compile(
    r"(?i)(?<![a-z])(?:d\.?o\.?b\.?|date[ _-]?of[ _-]?birth|birth[ _-]?date|birthday|"
    r"born(?: on)?|geburtsdatum|geboren(?: am)?|fecha[ _]de[ _]nacimiento|"
    r"date[ _]de[ _]naissance|n[ée]e? le|data[ _]di[ _]nascita)(?![a-z])"
    r"[\"']?[ \t]*(?:[:=#]|(?:is|was)(?![a-z]))?[ \t]*[\"']?[ \t]*"
)
_DOB_WORDS = (
    "dob",
    "d.o.b",
    "birth",
    "born",
    "geburtsdatum",
    "geboren",
    "nacimiento",
    "naissance",
    "née le",
    "né le",
    "nascita",
)
_DATE = re.compile(
    rf"(?i)(?P<iso>(?P<y1>(?:19|20)\d\d)[-/.](?P<m1>\d{{1,2}})[-/.](?P<d1>\d{{1,2}}))"
    rf"|(?P<num>(?P<a>\d{{1,2}})[-/.](?P<b>\d{{1,2}})[-/.](?P<y2>(?:19|20)?\d\d))"
    rf"|(?P<dmy>(?P<d3>\d{{1,2}})(?:st|nd|rd|th)?\.?[ -](?P<m3>{_MONTHS})\.?,?[ -](?P<y3>(?:19|20)\d\d))"
    rf"|(?P<mdy>(?P<m4>{_MONTHS})\.?[ -](?P<d4>\d{{1,2}})(?:st|nd|rd|th)?,?[ -](?P<y4>(?:19|20)\d\d))"
    r"(?![\w])"
)


def _plausible(year: int, month: int, day: int) -> bool:
    try:
        born = dt.date(year, month, day)
    except ValueError:
        return False
    return dt.date(1900, 1, 1) <= born <= dt.date.today()


def birth_date_ok(match: re.Match[str]) -> bool:
    """A real date in the past (day-first or month-first for all-number forms)."""
    if match.group("iso"):
        return _plausible(int(match["y1"]), int(match["m1"]), int(match["d1"]))
    if match.group("num"):
        year = int(match["y2"])
        year += 0 if year >= 100 else (1900 if year > dt.date.today().year % 100 else 2000)
        a, b = int(match["a"]), int(match["b"])
        return _plausible(year, b, a) or _plausible(year, a, b)
    if match.group("dmy"):
        month = _MONTH_NUMBER[match["m3"][:3].lower()]
        return _plausible(int(match["y3"]), month, int(match["d3"]))
    month = _MONTH_NUMBER[match["m4"][:3].lower()]
    return _plausible(int(match["y4"]), month, int(match["d4"]))


class BirthDateRecognizer(ContextRecognizer):
    def __init__(self) -> None:
        super().__init__(rule_id="date_of_birth", placeholder_type="DATE_OF_BIRTH", priority=38)

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        found = []
        for label in _labels(text, _DOB_LABEL, _DOB_WORDS):
            date = _DATE.match(text, label.end())
            if date is not None and birth_date_ok(date):
                found.append((date.start(), date.end(), "DATE_OF_BIRTH"))
        return found


def _labels(text: str, label: re.Pattern[str], words: tuple[str, ...]) -> list[re.Match[str]]:
    """The labels in `text`, searched only around the label words the block's keyword pass
    found (a case-insensitive alternation over a whole 300 KB conversation costs milliseconds).
    A label that reaches the end of its stretch is matched again on the whole text."""
    found_words = keywords.occurrences(text)
    cues = sorted({at for word in words for at in found_words.places(word)})
    if not cues:
        return []
    size = len(text)
    stretches = windows(cues, size, before=24, reach=48) if found_words.aligned else [(0, size)]
    out: list[re.Match[str]] = []
    seen = -1
    for lo, hi in stretches:
        for match in label.finditer(text, lo, hi):
            if match.end() == hi and hi < size:
                match = label.match(text, match.start()) or match
            if match.start() > seen:
                seen = match.start()
                out.append(match)
    return out


# ---- bank account numbers ------------------------------------------------------------------

_ACCOUNT_LABEL = re.compile(
    r"(?i)(?<![a-z])(?:(?:bank[ _-]?)?account[ _-]?(?:number|num|no\.?|nr\.?|#)|"
    r"bank[ _-]?account|acct\.?(?:[ _-]?(?:number|num|no\.?|#))?|a/c(?: no\.?)?|"
    r"kontonummer|konto(?:nr\.?)?|n[uú]mero de (?:compte|cuenta)|sort[ _-]?code)(?![a-z])"
    r"[\"']?[ \t]*(?:[:=#]|(?:is|was)(?![a-z]))?[ \t]*[\"']?[ \t]*"
)
_ACCOUNT_WORDS = (
    "account", "acct", "a/c", "konto", "compte", "cuenta", "sort code", "sort_code", "sortcode",
    "sort-code",
)  # fmt: skip
_ACCOUNT_NUMBER = re.compile(r"\d(?:[ -]?\d){5,19}(?![\w.]\d|\w)")


class BankAccountRecognizer(ContextRecognizer):
    def __init__(self) -> None:
        super().__init__(rule_id="bank_account", placeholder_type="BANK_ACCOUNT", priority=36)

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        found = []
        for label in _labels(text, _ACCOUNT_LABEL, _ACCOUNT_WORDS):
            number = _ACCOUNT_NUMBER.match(text, label.end())
            if number is None:
                continue
            digits = [c for c in number.group() if c.isdigit()]
            if len(set(digits)) > 1:
                found.append((number.start(), number.end(), "BANK_ACCOUNT"))
        return found


# ---- crypto wallet addresses ---------------------------------------------------------------

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}
# Version bytes of the pay-to-key-hash and pay-to-script-hash addresses: Bitcoin 1… and 3…,
# Litecoin L… and M….
_B58_VERSIONS = frozenset({0x00, 0x05, 0x30, 0x32})
# No look-behind in front: a pattern that starts with one is tried at every position of the
# text (7-8 ms per 300 KB each, measured), one that starts with a character class only where
# that character is (~2 ms); the character before is checked in Python (`_alone`).
_BASE58_ADDRESS = re.compile(r"[13LM][1-9A-HJ-NP-Za-km-z]{25,34}(?![\w/])")
_BECH32_ADDRESS = re.compile(r"(?:bc|ltc|BC|LTC)1[02-9ac-hj-np-zAC-HJ-NP-Z]{11,71}(?![\w/])")
_ETH_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}(?![\w/])")
_ETH_CUE = re.compile(
    r"(?i)(?<![a-z])(?:eth|ether|ethereum|wallet|metamask|erc-?20|usdt|usdc|send(?: it)? to|"
    r"pay(?: to)?|deposit|withdraw(?:al)?)(?![a-z])"
)
_ETH_WORDS = (
    "eth",
    "wallet",
    "metamask",
    "erc",
    "usdt",
    "usdc",
    "send",
    "pay",
    "deposit",
    "withdraw",
)
_BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def base58check_ok(value: str) -> bool:
    number = 0
    for char in value:
        number = number * 58 + _B58_INDEX[char]
    raw = number.to_bytes(25, "big") if number.bit_length() <= 200 else b""
    if len(raw) != 25 or raw[0] not in _B58_VERSIONS:
        return False
    leading = len(value) - len(value.lstrip("1"))
    if leading != (1 if raw[0] == 0 else 0):  # one "1" writes the 0x00 version byte
        return False
    digest = hashlib.sha256(hashlib.sha256(raw[:21]).digest()).digest()
    return digest[:4] == raw[21:]


def bech32_ok(value: str) -> bool:
    """A segwit address whose bech32 (BIP 173) or bech32m (BIP 350) checksum holds."""
    if value.lower() != value and value.upper() != value:
        return False
    value = value.lower()
    hrp, _, data = value.rpartition("1")
    if hrp not in ("bc", "ltc") or len(data) < 6:
        return False
    values = [_BECH32_CHARSET.index(c) for c in data]
    check = 1
    generators = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    for v in [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + values:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            check ^= generators[i] if (top >> i) & 1 else 0
    return check in (1, 0x2BC830A3)


class CryptoWalletRecognizer(ContextRecognizer):
    def __init__(self) -> None:
        super().__init__(rule_id="crypto_wallet", placeholder_type="CRYPTO_WALLET", priority=44)

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        found = []
        for match in _BASE58_ADDRESS.finditer(text):
            if _alone(text, match.start()) and base58check_ok(match.group()):
                found.append((match.start(), match.end(), "CRYPTO_WALLET"))
        for match in _BECH32_ADDRESS.finditer(text):
            if _alone(text, match.start()) and bech32_ok(match.group()):
                found.append((match.start(), match.end(), "CRYPTO_WALLET"))
        for match in _ETH_ADDRESS.finditer(text):
            start = match.start()
            if _alone(text, start) and _ETH_CUE.search(text, max(0, start - 40), start):
                found.append((start, match.end(), "CRYPTO_WALLET"))
        return found


def _alone(text: str, start: int) -> bool:
    """Nothing of a word or a path right before `start`."""
    if not start:
        return True
    before = text[start - 1]
    return not (before.isalnum() or before in "_/")


keywords.register([*_DOB_WORDS, *_ACCOUNT_WORDS, *_ETH_WORDS])


def build_personal_recognizers() -> list[ContextRecognizer]:
    return [BirthDateRecognizer(), BankAccountRecognizer(), CryptoWalletRecognizer()]
