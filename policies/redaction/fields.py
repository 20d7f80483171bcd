"""Values identified by their label: `"first_name": "Maria"`, `ssn: 123456789`, a CSV column
headed `phone`, `INSERT INTO customers (name, street, ...) VALUES (...)`, `<Phone>...</Phone>`.

A label turns shapes that are too common to redact on their own into detections: a bare
9-digit number under `ssn`, a one-word name under `first_name`, a national-format phone
number under `tel`, a whole address line under `billing_address`. Each value still has to
pass its type's check (policies.redaction.fieldcheck), so `name: payments-api`,
`address: 0.0.0.0:8080` or `phone: 4242` stay.

Three shapes are read, all in one pass over the lower-cased text for label words:
- key/value: `key: v`, `key = v`, `"key": "v"`, `key => 'v'`, `<key>v</key>`, `key="v"`;
- tables: a header line (comma, semicolon, tab or pipe separated) naming labelled columns,
  and the rows under it with the same separator;
- SQL: `INSERT INTO t (col, ...) VALUES (...), (...)`, values mapped to their columns.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from policies.redaction import fieldcheck, keywords

# Normalised label (lower case, letters and digits only) → type. Checked in order: the first
# pattern that matches the whole label wins.
_LABELS: tuple[tuple[str, str], ...] = (
    (r"\w*?(?:ssn|socialsecurity(?:number|no|num)?|ssnumber)", "US_SSN"),
    (
        r"\w*?(?:password|passwd|passphrase|pwd|pass|secret|token|apikey|secretkey|accesskey)",
        "SECRET",
    ),
    (r"(?:uk)?(?:nino|nationalinsurance(?:number|no|num)?|ninumber|nino?no)", "UK_NINO"),
    (r"(?:ca)?(?:sin|socialinsurance(?:number|no|num)?)", "CA_SIN"),
    (r"aadhaa?r(?:number|no|num|card)?|uidai", "IN_AADHAAR"),
    (r"(?:in)?pan(?:number|no|card)?", "IN_PAN"),
    (r"dni|nie|nif|documentonacional", "ES_NIF"),
    (r"codicefiscale|cf|fiscalcode|taxcode", "IT_FISCAL_CODE"),
    (r"cpf", "BR_CPF"),
    (
        r"(?:\w*?)(?:phone|phonenumber|phoneno|tel|telephone|mobile|mobilephone|mobilenumber|cell|"
        r"cellphone|fax|msisdn|contactnumber|whatsapp|sms|telefon|telefono|handy|portable)(?:number|no|nr)?\d?",
        "PHONE",
    ),
    (
        r"(?:\w*?)(?:address|addressline\d?|addr|street|streetaddress|line1|line2|residence|"
        r"strasse|adresse|direccion|indirizzo|endereco)\d?",
        "ADDRESS",
    ),
    (
        r"(?:\w*?)(?:city|town|locality|municipality|birthplace|placeofbirth|postcodecity|"
        r"cityline|ort|stadt|ville|ciudad|citta|cidade)",
        "LOCATION",
    ),
    (
        r"(?:full|first|given|fore|last|sur|family|middle|legal|real|display|maiden|nick)?name|"
        r"(?:customer|contact|client|recipient|patient|employee|applicant|cardholder|"
        r"accountholder|holder|author|owner|sender|person|shipto|billto|user|member|guest|"
        r"passenger|driver|tenant|buyer|seller|signer|witness|beneficiary|insured|student|"
        r"teacher|doctor|physician|nurse|manager|assignee|reviewer|approver|requester)name|"
        r"firstname|givenname|forename|lastname|surname|familyname|middlename|"
        r"customer|contact|recipient|patient|employee|applicant|cardholder|accountholder|"
        r"author|owner|sender|shipto|billto|attn|assignee|reviewer|oncall|"
        r"nom|prenom|nombre|apellidos?|vorname|nachname|cognome",
        "PERSON",
    ),
)
_LABEL_RES = tuple((re.compile(rf"(?:{p})"), t) for p, t in _LABELS)
# Lower-case words a label contains: where the pass looks. Found by the one keyword pass of
# policies.redaction.keywords (a regex alternation over the text was ~10x slower than a
# str.find per keyword, and that one pass ~6x faster again). Short ones
# ("sin", "pan", "tel") must stand alone, not between letters ("import", "company", "hotel");
# the long ones may sit inside an identifier ("firstname", "billing_address").
_LONG_KEYWORDS = (
    "name phone mobile whatsapp handy portable social insurance aadhaar aadhar uidai fiscal "
    "address street line1 line2 residence strasse adresse direccion indirizzo endereco city "
    "town locality municipality birth stadt ville ciudad citta cidade customer contact "
    "recipient patient employee applicant holder author owner sender attn assignee reviewer "
    "oncall vorname nachname cognome apellido surname forename msisdn password passwd secret "
    "token"
).split()
_SHORT_KEYWORDS = (
    "ssn nino sin pan dni nie nif cf cpf tel cell fax sms addr ort nom ship bill pwd".split()
)
_KEYWORDS = re.compile("|".join(_LONG_KEYWORDS + _SHORT_KEYWORDS))  # for one line at a time


keywords.register([*_LONG_KEYWORDS, *_SHORT_KEYWORDS, "insert"])


def keyword_hits(found: keywords.Occurrences) -> list[tuple[int, int]]:
    """(start, end) of every label keyword in the lower-cased text, sorted."""
    lowered = found.lowered
    hits = []
    for keyword in _LONG_KEYWORDS:
        size = len(keyword)
        hits.extend((at, at + size) for at in found.places(keyword))
    for keyword in _SHORT_KEYWORDS:
        size = len(keyword)
        for at in found.places(keyword):
            end = at + size
            if not (at and lowered[at - 1].isalpha()) and not lowered[end : end + 1].isalpha():
                hits.append((at, end))
    hits.sort()
    return hits


_IDENT = re.compile(r"[\w.\- ]")
_OPERATOR = re.compile(r"""[\"'\]]?[ \t]*(?P<op>:=|=>|->|=|:|>)[ \t]*""")
_QUOTED = re.compile(r"""(?P<q>[\"'`])(?P<v>[^\"'`\r\n]{1,300}?)(?P=q)""")
_TABLE_SEPARATORS = (",", ";", "\t", "|")
_HEADER_CELL = re.compile(r"[A-Za-z_][\w .#/-]*")
_INSERT = re.compile(
    r"(?i)insert\s+into\s+[`\"\[]?[\w.]+[`\"\]]?\s*\((?P<cols>[^)]{1,2000})\)\s*values\s*",
)


@dataclass(frozen=True, slots=True)
class Field:
    start: int
    end: int
    type: str


@lru_cache(maxsize=4096)
def label_type(label: str) -> tuple[str, bool] | None:
    """(type, generic) of a key or column name; `generic` labels ("name", "owner") need a
    stricter value check."""
    key = "".join(c for c in label.lower() if c.isalnum())
    if not key or len(key) > 40:
        return None
    for pattern, type_ in _LABEL_RES:
        if pattern.fullmatch(key):
            return type_, key in _GENERIC
    return None


_GENERIC = frozenset(
    {
        "name",
        "owner",
        "customer",
        "contact",
        "author",
        "sender",
        "assignee",
        "reviewer",
        "oncall",
        "nom",
        "nombre",
        "displayname",
        "nickname",
        "username",
        "membername",
        "user",
    }
)


def find_fields(text: str) -> list[Field]:
    """Every labelled value of `text` that passes its type's check."""
    found_words = keywords.occurrences(text)
    lowered = found_words.lowered
    hits = keyword_hits(found_words)
    found: dict[tuple[int, int], str] = {}
    if hits:
        for field in _key_values(text, lowered, hits):
            found.setdefault((field.start, field.end), field.type)
        for field in _tables(text, hits):
            found.setdefault((field.start, field.end), field.type)
    # The case-insensitive INSERT search runs only where it can match (~0.06 ms per 4 KB).
    if found_words.has("insert") or not found_words.plain_case:
        for field in _sql_inserts(text):
            found.setdefault((field.start, field.end), field.type)
    return [Field(s, e, t) for (s, e), t in sorted(found.items())]


def _key_values(text: str, lowered: str, hits: list[tuple[int, int]]) -> Iterator[Field]:
    seen_keys: set[int] = set()
    for key_start, key_end in hits:
        while key_start > 0 and (
            lowered[key_start - 1].isalnum() or lowered[key_start - 1] in "_-."
        ):
            key_start -= 1
        while key_end < len(lowered) and (lowered[key_end].isalnum() or lowered[key_end] in "_-"):
            key_end += 1
        if key_start in seen_keys:
            continue
        seen_keys.add(key_start)
        op = _OPERATOR.match(text, key_end)
        if op is None or (op.group("op") == ">" and not _xml_open(text, key_start)):
            continue
        labelled = label_type(text[key_start:key_end].rsplit(".", 1)[-1])
        if (
            labelled is None or labelled[0] == "SECRET"
        ):  # named secrets: policies.redaction.assigned
            continue
        type_, generic = labelled
        value = _value(text, op.end(), type_, op.group("op"))
        if value is None:
            continue
        start, end = value
        span = fieldcheck.check(type_, text, start, end, generic=generic)
        if span is not None:
            yield Field(span[0], span[1], type_)


def _xml_open(text: str, key_start: int) -> bool:
    return key_start > 0 and text[key_start - 1] == "<"


def _value(text: str, at: int, type_: str, op: str) -> tuple[int, int] | None:
    """The span of the value that starts at `at` (quoted, an XML element body, or bare)."""
    if at >= len(text) or text[at] in "{[(":
        return None
    quoted = _QUOTED.match(text, at)
    if quoted is not None:
        return quoted.span("v")
    if op == ">":
        close = text.find("<", at, at + 300)
        return (at, close) if close > at else None
    line_end = text.find("\n", at)
    if line_end < 0:
        line_end = len(text)
    end = min(line_end, at + 300)
    if type_ not in ("ADDRESS",):
        for stop in (",", ";", "&", "}", "]", ")", "|", "<", '"', "'", "\t"):
            cut = text.find(stop, at, end)
            if cut >= 0:
                end = cut
    value = text[at:end].rstrip()
    return (at, at + len(value)) if value else None


# ---- tables ------------------------------------------------------------------------------------


def _tables(text: str, hits: list[tuple[int, int]]) -> Iterator[Field]:
    lines = text.split("\n")
    offsets = []
    position = 0
    for line in lines:
        offsets.append(position)
        position += len(line) + 1
    # Only lines holding a label word can be headers: find them from the keyword hits.
    candidates = sorted({bisect.bisect_right(offsets, start) - 1 for start, _end in hits})
    index = 0
    for candidate in candidates:
        if candidate < index:
            continue
        index = candidate
        header = lines[index]
        columns = _header(header)
        if columns is None:
            continue
        separator, labels = columns
        row = index + 1
        if separator.startswith("select:"):
            width = int(separator.split(":")[1])
            following = lines[row] if row < len(lines) else ""
            separator = next(
                (c for c in ("|", "\t", ",", ";") if following.count(c) == width - 1), ""
            )
            if not separator:
                continue
        else:
            width = len(_split(header, separator))
        while row < len(lines):
            line = lines[row]
            if not line.strip():
                break
            if set(line.strip()) <= set("|-:+= "):  # a border: "|---|", "+------+"
                row += 1
                continue
            cells = _cells(line, separator)
            if len(cells) != width:
                break
            for position_in_row, (start, end) in enumerate(cells):
                labelled = labels.get(position_in_row)
                if labelled is None:
                    continue
                type_, generic = labelled
                absolute = offsets[row]
                span = fieldcheck.check(
                    type_, text, absolute + start, absolute + end, generic=generic
                )
                if span is not None:
                    yield Field(span[0], span[1], type_)
            row += 1
        index = row


_SELECT = re.compile(r"(?i)\bselect\s+(?P<cols>[\w\s,.`\"\[\]]{1,1000}?)\s+from\b")


def _header(line: str) -> tuple[str, dict[int, tuple[str, bool]]] | None:
    lowered = line.lower()
    if len(line) > 2000 or not _KEYWORDS.search(lowered):
        return None
    # The case-insensitive search is run only where it can match (it also matches a few
    # non-ASCII letters, the long s for "s": such lines always get it).
    select = _SELECT.search(line) if "select" in lowered or not line.isascii() else None
    if select is not None:
        # A query whose result rows follow without a header (sqlite, mysql -B): its column
        # list names the cells; the rows' own separator is found from the next line.
        columns = [c.strip().strip('`"[]').split(".")[-1] for c in select.group("cols").split(",")]
        labels = {i: lt for i, c in enumerate(columns) if (lt := label_type(c)) is not None}
        if labels and len(columns) >= 2:
            return "select:" + str(len(columns)), labels
    for separator in _TABLE_SEPARATORS:
        if line.count(separator) < 1:
            continue
        cells = _split(line, separator)
        if len(cells) < 2:
            continue
        names = [c.strip().strip("\"'`[]").strip() for c in cells]
        if any(len(n) > 40 or any(ch.isdigit() for ch in n[:1]) for n in names if n):
            continue
        if not all(_HEADER_CELL.fullmatch(n) for n in names if n):
            continue
        labels = {}
        for i, name in enumerate(names):
            labelled = label_type(name)
            if labelled is not None:
                labels[i] = labelled
        if labels:
            return separator, labels
    return None


def _split(line: str, separator: str) -> list[str]:
    return [line[s:e] for s, e in _cells(line, separator)]


def _cells(line: str, separator: str) -> list[tuple[int, int]]:
    """(start, end) of each cell, quotes honoured, surrounding spaces and quotes excluded."""
    cells = []
    start = 0
    if separator == "|" or '"' not in line:
        # No quotes to honour: the separators split the line (a C-speed scan per cell rather
        # than a Python step per character).
        at = line.find(separator)
        while at >= 0:
            cells.append((start, at))
            start = at + 1
            at = line.find(separator, start)
    else:
        quote = ""
        for i, char in enumerate(line):
            if quote:
                if char == quote:
                    quote = ""
                continue
            if char == '"':
                quote = char
            elif char == separator:
                cells.append((start, i))
                start = i + 1
    cells.append((start, len(line)))
    if separator == "|" and line.strip().startswith("|"):
        cells = cells[1:-1] if line.strip().endswith("|") else cells[1:]
    out = []
    for s, e in cells:
        while s < e and line[s] in " \"'":
            s += 1
        while e > s and line[e - 1] in " \"'\r":
            e -= 1
        out.append((s, e))
    return out


def _sql_inserts(text: str) -> Iterator[Field]:
    for insert in _INSERT.finditer(text):
        columns = [c.strip().strip('`"[] ') for c in insert.group("cols").split(",")]
        labels = {i: label_type(c) for i, c in enumerate(columns)}
        if not any(labels.values()):
            continue
        at = insert.end()
        while at < len(text) and text[at] == "(":
            tuple_end, cells = _sql_tuple(text, at)
            if tuple_end < 0:
                break
            if len(cells) == len(columns):
                for i, (start, end) in enumerate(cells):
                    labelled = labels.get(i)
                    if labelled is not None:
                        span = fieldcheck.check(labelled[0], text, start, end, generic=labelled[1])
                        if span is not None:
                            yield Field(span[0], span[1], labelled[0])
            at = tuple_end
            while at < len(text) and text[at] in ", \t\r\n":
                at += 1


def _sql_tuple(text: str, at: int) -> tuple[int, list[tuple[int, int]]]:
    """(index after the closing parenthesis, value spans without quotes) of `(v, 'v', ...)`."""
    cells: list[tuple[int, int]] = []
    i = at + 1
    limit = min(len(text), at + 20000)
    while i < limit:
        while i < limit and text[i] in " \t\r\n":
            i += 1
        if i < limit and text[i] == "'":
            j = i + 1
            while j < limit:
                if text[j] == "'" and text[j + 1 : j + 2] == "'":
                    j += 2
                    continue
                if text[j] == "'":
                    break
                j += 1
            cells.append((i + 1, j))
            i = j + 1
        else:
            j = i
            while j < limit and text[j] not in ",)":
                j += 1
            cells.append((i, j))
            i = j
        while i < limit and text[i] in " \t\r\n":
            i += 1
        if i < limit and text[i] == ",":
            i += 1
            continue
        if i < limit and text[i] == ")":
            return i + 1, cells
        return -1, cells
    return -1, cells
