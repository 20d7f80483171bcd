"""The redaction evaluation corpus: seeded generator families, split into a tuning half and a
held-out half, and the scoring of the scanner on them.

A family is a set of templates of one context (chat prose, a `.env` file, a Kubernetes
manifest, an access log...) written in one style. Each half has its own families: the
detectors are tuned on `tuning/` only; `heldout/` is reported, never tuned on (its misses are
not looked at one by one, only counted). Both halves draw their values from the same
generators (policies.tests.corpus.values.EvalGen), which is what makes the held-out figures
say something about text the detectors were not written against: same kinds of values, other
surroundings, key names, formats and documents.

Template markers: `⟦+kind⟧` a sensitive value that must be redacted, `⟦-kind⟧` a look-alike
that must stay intact, `⟦~kind⟧` a value that is neither (not scored), `⟦?a|b|c⟧` one of the
literals, chosen at random (expanded first, so it may not contain other markers).

`build(split, seed, per_family)` gives the cases; `score(cases)` runs the scanner with every
rule and reports recall per kind, per category and per context, and the share of look-alikes
altered. bench/redaction_corpus.py prints it; test_redaction_corpus asserts the targets.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from policies.tests.corpus.values import EvalGen

_CHOICE = re.compile(r"⟦\?([^⟦⟧]*)⟧")
_MARK = re.compile(r"⟦([+~-])(\w+)⟧")

SECRET_KINDS = frozenset(
    {
        "aws_key",
        "aws_secret",
        "aws_session_token",
        "github_token",
        "gitlab_token",
        "openai_key",
        "anthropic_key",
        "google_key",
        "azure_key",
        "azure_storage_connection",
        "slack_token",
        "slack_webhook",
        "stripe_key",
        "sendgrid_key",
        "datadog_key",
        "npm_token",
        "pypi_token",
        "jwt",
        "private_key",
        "private_key_escaped",
        "password",
        "url_password",
        "gateway_key",
        "secret",
        "generic_secret",
        "hex_secret",
        "hex_key_id",
        "csrf_token",
        "session_id",
        "basic_auth",
        "b64_secret",
        "bearer_token",
        "laravel_key",
        "twilio_key",
        "mailgun_key",
        "vault_token",
        "huggingface_token",
        "shopify_token",
        "digitalocean_token",
    }
)
NAME_KINDS = frozenset({"person", "first_name", "last_name"})
ADDRESS_KINDS = frozenset({"street_address", "us_address"})
LOCATION_KINDS = frozenset({"place", "city"})
PII_KINDS = frozenset(
    {
        "email",
        "phone",
        "phone_national",
        "phone_uk_de",
        "us_ssn",
        "us_ssn_plain",
        "uk_nino",
        "ca_sin",
        "in_aadhaar",
        "in_pan",
        "es_dni",
        "es_nie",
        "it_fiscal_code",
        "br_cpf",
        "us_itin",
        "uk_nhs",
        "au_tfn",
        "de_tax_id",
        "fr_nir",
        "nl_bsn",
        "pl_pesel",
        "se_personnummer",
        "dk_cpr",
        "no_fodselsnummer",
        "fi_hetu",
        "kr_rrn",
        "mx_curp",
        "tr_tckn",
        "ie_pps",
        "us_routing",
        "passport_number",
        "driver_license",
        "date_of_birth",
        "bank_account",
        "crypto_wallet",
        "credit_card",
        "iban",
        "ip_address",
    }
)
CATEGORIES: dict[str, frozenset[str]] = {
    "secrets": SECRET_KINDS,
    "pattern PII": PII_KINDS,
    "person names": NAME_KINDS,
    "street addresses": ADDRESS_KINDS,
    "locations": LOCATION_KINDS,
}
# Contexts where a look-alike altered counts against the names/addresses false-positive target.
CODE_AND_LOG_CONTEXTS = frozenset(
    {"code", "app_log", "http_log", "stack_trace", "shell", "diff", "ci_log", "sql", "tool_result"}
)


def category_of(kind: str) -> str:
    for name, kinds in CATEGORIES.items():
        if kind in kinds:
            return name
    raise KeyError(kind)


@dataclass(frozen=True)
class Family:
    """Templates of one context in one style; `name` is unique across both halves."""

    name: str
    context: str
    templates: tuple[str, ...]


@dataclass
class Case:
    family: str
    context: str
    split: str
    text: str
    positives: list[tuple[str, int, int]] = field(default_factory=list)
    negatives: list[tuple[str, int, int]] = field(default_factory=list)


# Kept for the speed bench and older callers: a Case without a family.
Doc = Case


def instantiate(
    template: str, gen: EvalGen, *, family: str = "", context: str = "", split: str = ""
) -> Case:
    """One case of a template: choices made, then every marker filled with a fresh value."""
    template = _CHOICE.sub(lambda m: gen.r.choice(m.group(1).split("|")), template)
    case = Case(family=family, context=context, split=split, text="")
    parts: list[str] = []
    cursor = length = 0
    for match in _MARK.finditer(template):
        literal = template[cursor : match.start()]
        parts.append(literal)
        length += len(literal)
        value = getattr(gen, match.group(2))()
        sign = match.group(1)
        if sign != "~":
            target = case.positives if sign == "+" else case.negatives
            target.append((match.group(2), length, length + len(value)))
        parts.append(value)
        length += len(value)
        cursor = match.end()
    parts.append(template[cursor:])
    case.text = "".join(parts)
    return case


def families(split: str) -> list[Family]:
    if split == "tuning":
        from policies.tests.corpus.tuning import FAMILIES
    elif split == "heldout":
        from policies.tests.corpus.heldout import FAMILIES
    else:
        raise ValueError(f"unknown split {split!r}")
    return list(FAMILIES)


def build(split: str = "tuning", seed: int = 5, per_family: int = 60) -> list[Case]:
    """`per_family` cases of every family of the half, each from a random template of it."""
    gen = EvalGen(seed if split == "tuning" else seed + 1_000_003)
    cases = []
    for family in families(split):
        for _ in range(per_family):
            template = gen.r.choice(family.templates)
            cases.append(
                instantiate(template, gen, family=family.name, context=family.context, split=split)
            )
    return cases


@dataclass
class Tally:
    found: int = 0
    total: int = 0

    @property
    def rate(self) -> float:
        return self.found / self.total if self.total else 1.0


@dataclass
class Score:
    by_kind: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_category: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_context: dict[tuple[str, str], Tally] = field(default_factory=lambda: defaultdict(Tally))
    negatives: Tally = field(default_factory=Tally)  # found = altered
    negatives_code_logs: Tally = field(default_factory=Tally)
    negatives_by_kind: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    missed: list[tuple[str, str, str]] = field(default_factory=list)  # family, kind, value
    altered: list[tuple[str, str, str]] = field(default_factory=list)
    kb: float = 0.0
    cases: int = 0

    def recall(self, category: str) -> float:
        return self.by_category[category].rate

    @property
    def fp_rate(self) -> float:
        return self.negatives.rate if self.negatives.total else 0.0


def score(cases: list[Case], config: Any = None) -> Score:
    """Recall: a positive counts as found when detections cover all of it. False positive: a
    look-alike that any detection touches."""
    from policies.redaction.engine import all_rule_config, scanner

    engine = scanner()
    config = config or all_rule_config()
    result = Score()
    for case in cases:
        spans = engine.scan_text(case.text, config)
        result.kb += len(case.text.encode()) / 1024
        result.cases += 1
        for kind, start, end in case.positives:
            covered = sum(max(0, min(end, e) - max(start, s)) for s, e, _t in spans)
            hit = covered >= end - start
            category = category_of(kind)
            for tally in (
                result.by_kind[kind],
                result.by_category[category],
                result.by_context[(category, case.context)],
            ):
                tally.total += 1
                tally.found += hit
            if not hit:
                result.missed.append((case.family, kind, case.text[start:end]))
        for kind, start, end in case.negatives:
            touched = any(s < end and e > start for s, e, _t in spans)
            tallies = [result.negatives, result.negatives_by_kind[kind]]
            if case.context in CODE_AND_LOG_CONTEXTS:
                tallies.append(result.negatives_code_logs)
            for tally in tallies:
                tally.total += 1
                tally.found += touched
            if touched:
                result.altered.append((case.family, kind, case.text[start:end]))
    return result
