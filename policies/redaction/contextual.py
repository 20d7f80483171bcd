"""The recognizers that need more than one pattern: person names, street addresses, places,
national identifiers, and the labelled values of policies.redaction.fields.

Each is a presidio `EntityRecognizer` registered like the pattern recognizers (one per rule of
policies.redaction.rules, same `rule_id` / `placeholder_type` / `priority` attributes). The
labelled-value pass and the address grammar serve several rules: their result for a text is
computed once per scan thread and shared (`_memo`), since presidio calls each recognizer with
the same text object in turn.
"""

from __future__ import annotations

import re
import string
import threading
from collections.abc import Callable
from typing import Any

import regex
from presidio_analyzer import EntityRecognizer, RecognizerResult

from policies.redaction import keywords
from policies.redaction import validators as v
from policies.redaction.addresses import find_addresses
from policies.redaction.fields import Field, find_fields
from policies.redaction.names import NameFinder
from policies.redaction.recognizers import ENTITY_PREFIX, as_results, deadline_remaining

_local = threading.local()


def _memo(name: str, text: str, compute: Callable[[str], Any]) -> Any:
    """compute(text), remembered for the last text seen by this thread under `name`."""
    slot = getattr(_local, name, None)
    if slot is not None and slot[0] is text:
        return slot[1]
    value = compute(text)
    setattr(_local, name, (text, value))
    return value


def labelled(text: str) -> list[Field]:
    return _memo("fields", text, find_fields)


def addresses(text: str) -> list[tuple[int, int, str]]:
    return _memo("addresses", text, find_addresses)


class ContextRecognizer(EntityRecognizer):
    """Common plumbing: the rule's entity, the (start, end, type) spans of `spans()`."""

    def __init__(self, *, rule_id: str, placeholder_type: str, priority: int) -> None:
        super().__init__(
            supported_entities=[ENTITY_PREFIX + rule_id.upper()],
            name=f"gateway_{rule_id}_context",
            supported_language="en",
        )
        self.rule_id = rule_id
        self.placeholder_type = placeholder_type
        self.priority = priority

    def load(self) -> None:
        return None

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        raise NotImplementedError

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None
    ) -> list[RecognizerResult]:
        """Presidio's interface: the detections of `find` as RecognizerResults."""
        return as_results(self, self.find(text))

    def find(self, text: str) -> list[tuple[int, int, int, str]]:
        """(priority, start, end, placeholder type) of each span: what the scanner reads."""
        deadline_remaining()
        priority = self.priority
        return [
            (priority, start, end, type_) for start, end, type_ in self.spans(text) if end > start
        ]


class PersonRecognizer(ContextRecognizer):
    def __init__(self) -> None:
        super().__init__(rule_id="person", placeholder_type="PERSON", priority=25)
        self.finder = NameFinder()

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        found = [(s, e, "PERSON") for s, e in self.finder.find(text)]
        found += [(f.start, f.end, "PERSON") for f in labelled(text) if f.type == "PERSON"]
        return found


class AddressRecognizer(ContextRecognizer):
    def __init__(self) -> None:
        super().__init__(rule_id="street_address", placeholder_type="ADDRESS", priority=28)

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        found = [span for span in addresses(text) if span[2] == "ADDRESS"]
        found += [(f.start, f.end, "ADDRESS") for f in labelled(text) if f.type == "ADDRESS"]
        return found


class LocationRecognizer(ContextRecognizer):
    def __init__(self) -> None:
        super().__init__(rule_id="location", placeholder_type="LOCATION", priority=27)

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        found = [span for span in addresses(text) if span[2] == "LOCATION"]
        found += [(f.start, f.end, "LOCATION") for f in labelled(text) if f.type == "LOCATION"]
        return found


class LabelledRecognizer(ContextRecognizer):
    """A rule whose values are also found by their label (SSN, phone): the labelled values of
    its types."""

    def __init__(
        self, *, rule_id: str, placeholder_type: str, priority: int, types: frozenset[str]
    ) -> None:
        super().__init__(rule_id=rule_id, placeholder_type=placeholder_type, priority=priority)
        self.types = types

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        return [(f.start, f.end, f.type) for f in labelled(text) if f.type in self.types]


# National identifiers with a shape (and mostly a checksum) distinctive enough to find with no
# label; the others (a bare 9-digit SIN, a 12-digit Aadhaar, an 11-digit CPF) need a label or
# a cue word within the 40 characters before them.
# Two passes (letter-led and digit-led shapes: one alternation each, which the standard
# library's engine skips to with its first-character set), then one per cue-gated form.
_ID_LETTER_LED = re.compile(
    r"(?P<UK_NINO>[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D])(?![\w])"
    r"|(?P<IN_PAN>[A-Z]{3}[PCHFATBLJG][A-Z]\d{4}[A-Z])(?![\w])"
    r"|(?P<IT_FISCAL_CODE>[A-Z]{6}\d{2}[A-EHLMPR-T]\d{2}[A-Z]\d{3}[A-Z])(?![\w])"
    r"|(?P<ES_NIE>[XYZ]\d{7}-?[A-Z])(?![\w])"
    r"|(?P<MX_CURP>[A-Z][AEIOUX][A-Z]{2}\d{6}[HMX][A-Z]{5}[0-9A-Z]\d)(?![\w])"
)
_ID_DIGIT_LED = re.compile(
    r"(?P<ES_NIF>\d{8}-?[A-Z])(?![\w])"
    r"|(?P<BR_CPF>\d{3}\.\d{3}\.\d{3}-\d{2})(?![\w])"
    r"|(?P<IN_AADHAAR>[2-9]\d{3} \d{4} \d{4})(?![\w])"
)
# Where an identifier of each pass can start (one single-branch search each, which the
# engine runs fast): letters then two digits within 7 characters; three digits then a digit,
# a dot or a space.
_ID_LETTERS = re.compile(r"(?<![A-Za-z0-9_./+-])(?=[A-Z][A-Z ]{0,6}\d\d)")
_ID_DIGITS = re.compile(r"(?<![A-Za-z0-9_./+-])(?=\d{3}[\d. ])")
_ID_CHECKS: dict[str, Callable[[str], bool]] = {
    "UK_NINO": v.nino_ok,
    "IN_PAN": v.in_pan_ok,
    "IT_FISCAL_CODE": v.it_fiscal_code_ok,
    "ES_NIE": v.es_nif_ok,
    "ES_NIF": v.es_nif_ok,
    "BR_CPF": v.br_cpf_ok,
    "IN_AADHAAR": v.aadhaar_ok,
    "CA_SIN": v.ca_sin_ok,
    "MX_CURP": v.checked("mx.curp"),
    "US_ITIN": v.us_itin_ok,
    "UK_NHS": v.checked("gb.nhs"),
    "AU_TFN": v.checked("au.tfn"),
    "DE_TAX_ID": v.checked("de.idnr"),
    "FR_NIR": v.checked("fr.nir"),
    "NL_BSN": v.checked("nl.bsn"),
    "PL_PESEL": v.checked("pl.pesel"),
    "SE_PERSONNUMMER": v.checked("se.personnummer", strip=" "),
    "DK_CPR": v.checked("dk.cpr"),
    "NO_FODSELSNUMMER": v.checked("no.fodselsnummer"),
    "FI_HETU": v.checked("fi.hetu", strip=" "),
    "KR_RRN": v.checked("kr.rrn"),
    "TR_TCKN": v.checked("tr.tckimlik"),
    "IE_PPS": v.checked("ie.pps"),
    "US_ROUTING": v.checked("us.rtn"),
    "PASSPORT": v.document_number_ok,
    "DRIVER_LICENSE": v.document_number_ok,
}
_ID_TYPES = {"ES_NIE": "ES_NIF"}
_ID_CUED: tuple[
    tuple[str, re.Pattern[str], re.Pattern[str], tuple[str, ...], tuple[str, ...]], ...
] = (
    ("BR_CPF", re.compile(r"\d{11}(?![\w])"), re.compile(r"(?i)\bcpf\b"), ("cpf",), ()),
    (
        "IN_AADHAAR",
        re.compile(r"[2-9]\d{11}(?![\w])"),
        re.compile(r"(?i)aadhaa?r|\buid\b"),
        ("uid",),
        ("aadhar", "aadhaar"),
    ),
    (
        "CA_SIN",
        re.compile(r"\d{3}[ -]?\d{3}[ -]?\d{3}(?![\w])"),
        re.compile(r"(?i)\bsin\b|social insurance"),
        ("sin",),
        ("social insurance",),
    ),
    # More countries' identifiers, each with its checksum (python-stdnum) and its own words.
    (
        "US_ITIN",
        re.compile(r"9\d{2}[- ]?\d{2}[- ]?\d{4}(?![\w])"),
        re.compile(r"(?i)\bitin\b|taxpayer identification"),
        ("itin",),
        ("taxpayer identification",),
    ),
    (
        "UK_NHS",
        re.compile(r"\d{3}[ -]?\d{3}[ -]?\d{4}(?![\w])"),
        re.compile(r"(?i)(?<![a-z])nhs(?![a-z])"),
        ("nhs",),
        (),
    ),
    (
        "AU_TFN",
        re.compile(r"\d{3}[ -]?\d{3}[ -]?\d{2,3}(?![\w])"),
        re.compile(r"(?i)\btfn\b|tax file"),
        ("tfn",),
        ("tax file",),
    ),
    (
        "DE_TAX_ID",
        re.compile(r"\d{2} ?\d{3} ?\d{3} ?\d{3}(?![\w])"),
        re.compile(r"(?i)steuer|identifikationsnummer|\bidnr\b|tax id"),
        ("idnr",),
        ("steuer", "identifikationsnummer", "tax id"),
    ),
    (
        "FR_NIR",
        re.compile(r"[12] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}(?![\w])"),
        re.compile(r"(?i)s[ée]curit[ée] sociale|\bnir\b|\binsee\b|s[ée]cu\b"),
        ("nir", "insee", "sécu", "secu"),
        ("sécurité sociale", "securite sociale"),
    ),
    (
        "NL_BSN",
        re.compile(r"\d{4}[. ]?\d{2}[. ]?\d{3}(?![\w])"),
        re.compile(r"(?i)\bbsn\b|burgerservicenummer"),
        ("bsn",),
        ("burgerservicenummer",),
    ),
    (
        "PL_PESEL",
        re.compile(r"\d{11}(?![\w])"),
        re.compile(r"(?i)pesel"),
        (),
        ("pesel",),
    ),
    (
        "SE_PERSONNUMMER",
        re.compile(r"(?:\d{2})?\d{6}[-+]?\d{4}(?![\w])"),
        re.compile(r"(?i)personnummer|personnr"),
        (),
        ("personnummer", "personnr"),
    ),
    (
        "DK_CPR",
        re.compile(r"\d{6}-?\d{4}(?![\w])"),
        re.compile(r"(?i)\bcpr\b|personnummer"),
        ("cpr",),
        ("personnummer",),
    ),
    (
        "NO_FODSELSNUMMER",
        re.compile(r"\d{6} ?\d{5}(?![\w])"),
        re.compile(r"(?i)f[øo]dselsnummer|personnummer"),
        (),
        ("fødselsnummer", "fodselsnummer", "personnummer"),
    ),
    (
        "FI_HETU",
        re.compile(r"\d{6}[-+A-FU-Y]\d{3}[0-9A-FHJ-NPR-Y](?![\w])"),
        re.compile(r"(?i)hetu|henkil[öo]tunnus|identity code|sotu"),
        ("hetu", "sotu"),
        ("henkilötunnus", "henkilotunnus", "identity code"),
    ),
    (
        "KR_RRN",
        re.compile(r"\d{6}-?\d{7}(?![\w])"),
        re.compile(r"(?i)\brrn\b|resident registration|주민등록번호|주민번호"),
        ("rrn",),
        ("resident registration", "주민등록번호", "주민번호"),
    ),
    (
        "TR_TCKN",
        re.compile(r"[1-9]\d{10}(?![\w])"),
        re.compile(r"(?i)kimlik|\btckn\b|\btc no"),
        ("tckn",),
        ("kimlik", "tc no"),
    ),
    (
        "IE_PPS",
        re.compile(r"\d{7}[A-W][A-IW]?(?![\w])"),
        re.compile(r"(?i)\bppsn?\b|personal public service"),
        ("pps", "ppsn"),
        ("personal public service",),
    ),
    (
        "US_ROUTING",
        re.compile(r"\d{9}(?![\w])"),
        re.compile(r"(?i)routing|\baba\b|\brtn\b"),
        ("aba", "rtn"),
        ("routing",),
    ),
    (
        "PASSPORT",
        re.compile(r"[A-Z]{0,2}\d{6,9}(?![\w])"),
        re.compile(r"(?i)passport|passeport|reisepass|pasaporte|passaporto"),
        (),
        ("passport", "passeport", "reisepass", "pasaporte", "passaporto"),
    ),
    (
        "DRIVER_LICENSE",
        re.compile(r"[A-Z]{0,3}\d[\d -]{3,16}\d(?![\w])"),
        re.compile(
            r"(?i)driv(?:er'?s?|ing)[ _-]licen[cs]e|\bdl ?(?:#|no\b|number)|f[üu]hrerschein|"
            r"licen[cs]e (?:no\b|number|#)"
        ),
        ("dl",),
        ("licence", "license", "führerschein", "fuhrerschein"),
    ),
)


keywords.register(w for _t, _p, _c, words, phrases in _ID_CUED for w in (*words, *phrases))


def _has_cue(found: keywords.Occurrences, words: tuple[str, ...], phrases: tuple[str, ...]) -> bool:
    """One of `words` standing alone, or one of `phrases` anywhere, in the lower-cased text:
    from the block's keyword pass (a case-insensitive \\b-led search of the whole text cost
    ~0.1 ms per KB)."""
    return any(found.has(phrase) for phrase in phrases) or any(
        found.has_word(word) for word in words
    )


_ID_LEFT = frozenset(string.ascii_letters + string.digits + "_-./+")


class NationalIdRecognizer(ContextRecognizer):
    def __init__(self) -> None:
        super().__init__(rule_id="national_id", placeholder_type="NATIONAL_ID", priority=42)
        self.types = frozenset(_ID_CHECKS) - {"ES_NIE", "US_SSN"}

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        found: list[tuple[int, int, str]] = []
        # One single-branch candidate search (fast), then the alternation only where it hits.
        for candidates, pattern in ((_ID_LETTERS, _ID_LETTER_LED), (_ID_DIGITS, _ID_DIGIT_LED)):
            for candidate in candidates.finditer(text):
                match = pattern.match(text, candidate.start())
                if match is None:
                    continue
                start, end = match.span()
                kind = match.lastgroup or ""
                if _ID_CHECKS[kind](match.group()):
                    found.append((start, end, _ID_TYPES.get(kind, kind)))
        found += _cued(text, _ID_CUED)
        found += [(f.start, f.end, f.type) for f in labelled(text) if f.type in self.types]
        return found


def _cued(text: str, table: tuple[Any, ...]) -> list[tuple[int, int, str]]:
    """The cue-gated forms of `table` in `text`: a value of the form with its cue within the 40
    characters before it and a valid check. Only the stretches after a cue word are searched
    (from the block's keyword pass): a cue once in a long conversation costs one short search,
    not one over the whole block per form."""
    found: list[tuple[int, int, str]] = []
    found_words = keywords.occurrences(text)
    size = len(text)
    for type_, pattern, cue, words, phrases in table:
        lowered = found_words.lowered
        cues = sorted(
            {
                at
                for word in words
                for at in found_words.places(word)
                if not (at and lowered[at - 1].isalnum())
                and not lowered[at + len(word) : at + len(word) + 1].isalnum()
            }
            | {at for phrase in phrases for at in found_words.places(phrase)}
        )
        # A bare-digit form needs its cue word near it: no pass when the text has none.
        if not cues:
            continue
        seen = -1
        spans = windows(cues, size) if found_words.aligned else [(0, size)]
        for lo, hi in spans:
            for candidate in pattern.finditer(text, lo, hi):
                start = candidate.start()
                match = pattern.match(text, start) if candidate.end() == hi else candidate
                if match is None or start <= seen:
                    continue
                seen = start
                if start and text[start - 1] in _ID_LEFT:
                    continue
                if cue.search(text, max(0, start - 40), start) and _ID_CHECKS[type_](match.group()):
                    found.append((start, match.end(), type_))
    return found


def windows(
    cues: list[int], size: int, *, before: int = 0, reach: int = 80
) -> list[tuple[int, int]]:
    """Merged stretches [cue - before, cue + reach) of a text of `size` characters around the
    sorted positions `cues`: where a label containing the cue word, or a value whose cue starts
    within the 40 characters before it, can be (the value's own length included)."""
    out: list[tuple[int, int]] = []
    for at in cues:
        lo, hi = max(0, at - before), min(size, at + reach)
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


# A US SSN written without separators in prose ("SSN 078051120", "social security number is
# 219099999"): its label word within the 40 characters before it (a labelled field or column
# is the labelled-value pass's).
_SSN_CUED = (
    (
        "US_SSN",
        re.compile(r"\d{9}(?![\w])"),
        re.compile(r"(?i)\bssn\b|social security"),
        ("ssn",),
        ("social security",),
    ),
)
_ID_CHECKS["US_SSN"] = v.ssn_ok
keywords.register(w for _t, _p, _c, words, phrases in _SSN_CUED for w in (*words, *phrases))


class SsnRecognizer(LabelledRecognizer):
    """The us_ssn rule's labelled values, and its bare nine digits after its label word."""

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        return [*super().spans(text), *_cued(text, _SSN_CUED)]


# National-format phone numbers: a trunk-prefix shape ("020 7946 0958", "030 1234567",
# "(0171) 123 45 67") found when a phone word is near, or when it is a valid number of one of
# the countries that write numbers this way.
_NATIONAL = regex.compile(
    r"(?<![\w+./:#-])(?P<v>\(?0\d{1,5}\)?(?:[ /.-]?\d{2,8}){1,4})(?![\w/]|[.-]\d)"
)
# Any grouped number ("8123 4428", "(11) 2346-0758", "74 21600") right after a phone word.
_CUED_NUMBER = regex.compile(
    r"(?<![\w+./:#-])(?P<v>(?:\(\d{1,4}(?: \d{1,3})?\)[ ]?)?\d{2,5}(?:[ -]\d{2,5}){1,4})(?![\w/]|[.-]\d)"
)
_DATE_START = regex.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}-\d{1,2}-\d{2,4}")
_PHONE_CUE_ANYWHERE = regex.compile(
    r"(?i)phone|tel|mobile|cell|fax|call|ring|reach|whatsapp|sms|dial|contact|handy"
)
# Its words, read from the keyword pass (the case-insensitive search of the whole text cost
# ~0.35 ms per 4 KB, measured); the search itself runs only on a text with letters that
# fold to ASCII ones (the long s).
_PHONE_CUE_WORDS = (
    "phone tel mobile cell fax call ring reach whatsapp sms dial contact handy".split()
)
keywords.register(_PHONE_CUE_WORDS)
_DATE = regex.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}$")
_PHONE_CUE = regex.compile(
    r"(?i)(?:phone|number is|number:|\btel\b|tel\.|mobile|\bmob\b|\bcell|\bfax|\bcall|\bring\b|\breach|text me|"
    r"whatsapp|\bsms|\bdial|contact|handy|telefon|téléphone|teléfono|telefono|\bm:|\bo:|\bt:|"
    r"\bp:|\bph\b|☎|📞)"
)
# Countries whose numbers are written with a trunk "0" and are common in the traffic we see;
# a separated 0-number valid in one of them is a phone number even with no phone word near.
_TRUNK_REGIONS = ("GB", "DE", "FR", "NL", "AU", "IN")


class NationalPhoneRecognizer(ContextRecognizer):
    def __init__(self) -> None:
        super().__init__(rule_id="phone", placeholder_type="PHONE", priority=30)

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        found = [(f.start, f.end, "PHONE") for f in labelled(text) if f.type == "PHONE"]
        words = keywords.occurrences(text)
        if (
            any(words.has(word) for word in _PHONE_CUE_WORDS)
            if words.plain_case
            else _PHONE_CUE_ANYWHERE.search(text) is not None
        ):
            for match in _CUED_NUMBER.finditer(text):
                start, end = match.span("v")
                value = match.group("v")
                digits = sum(c.isdigit() for c in value)
                after = text[end : end + 2]
                if (
                    _DATE_START.match(value)
                    or after[:1] == ":"
                    or (after[:1] in (",", ".") and after[1:2].isdigit())
                ):
                    continue  # a date, a time, a decimal
                if 7 <= digits <= 12 and _PHONE_CUE.search(text, max(0, start - 60), start):
                    found.append((start, end, "PHONE"))
        for match in _NATIONAL.finditer(text):
            value = match.group("v")
            digits = sum(c.isdigit() for c in value)
            if not 8 <= digits <= 13 or _DATE.match(value):
                continue
            start, end = match.span("v")
            line_start = text.rfind("\n", 0, start) + 1
            cue = _PHONE_CUE.search(text, max(line_start, start - 40), start) is not None
            separated = any(c in value for c in " -/()")
            if (cue and separated) or any(
                v.phone_ok(value, region) for region in _TRUNK_REGIONS if separated
            ):
                found.append((start, end, "PHONE"))
        return found


def build_context_recognizers() -> list[ContextRecognizer]:
    return [
        PersonRecognizer(),
        AddressRecognizer(),
        LocationRecognizer(),
        NationalIdRecognizer(),
        NationalPhoneRecognizer(),
        SsnRecognizer(
            rule_id="us_ssn", placeholder_type="US_SSN", priority=35, types=frozenset({"US_SSN"})
        ),
        LabelledRecognizer(
            rule_id="assigned_secret",
            placeholder_type="SECRET",
            priority=70,
            types=frozenset({"SECRET"}),
        ),
    ]
