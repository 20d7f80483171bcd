"""A cheap pass that decides which recognizers can match a block at all.

Each rule has a trigger that every match of the rule contains: literals (a published prefix
like `ghp_`, a name word like `secret`) and, where a literal cannot say it, a short stdlib-`re`
pattern (an `@` before a letter, a digit shape). The scanner then runs only the recognizers
whose trigger fired, and a block with no trigger is not scanned at all. Measured on the
corpus: the recognizers' fixed cost per call dominated small blocks, and the triggers cost a
few microseconds per KB.

Literals are looked up in the block's keyword occurrences (policies.redaction.keywords: one
Aho-Corasick pass over the lower-cased text for the words of every detector; a cased literal
is then checked in the text at those places): a search per literal cost ~1-2 µs per KB
each, and an alternation of literals, or a case-insensitive one, is a regex the engines
search position by position (~20-50 µs per KB each, measured). A pattern runs only when no
literal of the rule was found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from policies.redaction import keywords


@dataclass(frozen=True, slots=True)
class Trigger:
    cased: tuple[str, ...] = ()  # literals looked for in the text
    lower: tuple[str, ...] = ()  # literals looked for in the lower-cased text
    words: tuple[str, ...] = ()  # lower-case words looked for alone (not inside a word)
    pattern: re.Pattern[str] | None = None  # searched in the text when no literal is found


def _t(cased: str = "", lower: str = "", words: str = "", pattern: str = "") -> Trigger:
    return Trigger(
        tuple(cased.split()),
        tuple(lower.split()),
        tuple(words.split()),
        re.compile(pattern) if pattern else None,
    )


# Every match of the rule contains one of these. The digit-shaped PII rules (SSN, card, IBAN,
# IP) have no trigger: measured, a trigger for them cost as much as the recognizer itself.
TRIGGERS: dict[str, Trigger] = {
    "email": _t(pattern=r"@[A-Za-z0-9]"),
    "phone": _t(pattern=r"\+[1-9]|\d{3}[-. )]"),
    "aws": _t("AKIA ASIA ABIA ACCA A3T", "secret_access secretaccess aws_secret awssecret"),
    "github": _t("ghp_ gho_ ghu_ ghs_ ghr_ github_pat_"),
    "gitlab": _t(
        "glpat- glptt- gldt- glrt- glcbt- glsoat- glft- glimt- glagent- gloas- glffct- GR1348941"
    ),
    "openai": _t("sk-"),
    "anthropic": _t("sk-ant-"),
    "google": _t("AIza GOCSPX- ya29."),
    "azure": _t("Q~", "accountkey sharedaccesskey sig= ocp-apim azure"),
    "slack": _t("xox xapp- hooks.slack.com"),
    "stripe": _t("_live_ _test_ whsec_"),
    "sendgrid": _t("SG."),
    "datadog": _t(lower="dd_ap dd-ap ddap datadog"),
    "npm": _t("npm_"),
    "pypi": _t("pypi-AgE"),
    "jwt": _t("eyJ"),
    "private_key": _t("PRIVATE KEY"),
    "connection_password": _t(pattern=r"://[^\s/@'\"`]*:[^\s@/'\"`]*@"),
    "gateway_key": _t("gw_sk_ gw_pt_"),
    "date_of_birth": _t(lower="birth born dob d.o.b geburt nacimiento naissance né nascita"),
    "bank_account": _t(lower="account acct a/c konto compte cuenta sort"),
    "crypto_wallet": _t(
        "0x",
        pattern=r"(?<![\w/])(?:[13LM][1-9A-HJ-NP-Za-km-z]{25}|(?i:bc|ltc)1[02-9ac-hj-np-z]{11})",
    ),
    "service_tokens": _t(
        "hf_ key- shp _v1_ hvs. hvb. hvr. base64: ATATT3 lin_ secret_ ntn_ PMAK- dp. glsa_ glc_ "
        "NRAK- sntr sbp_ dapi sq0 EAAA :AA pscale_ pul- atlasv1 AGE-SECRET sk.eyJ sk-or- gsk_ "
        "r8_ re_",
        pattern=r"SK[0-9a-f]{8}",
    ),
    "assigned_secret": _t(
        "-p -a -u --pass ?code= &code= ?sig= &sig=",
        "pass pwd secret token key auth credential bearer cookie session csrf xsrf sid",
        "pw",
        pattern=r"[\"'`][A-Za-z0-9]{20}|(?:^|\n)[\w.*-]+:(?:\d{1,5}|\*):[\w.*-]+:",
    ),
}


# Lower-case literal -> (rule, literal as written, how it counts) for each trigger literal.
_BY_WORD: dict[str, list[tuple[str, str, str]]] = {}
for _rule, _trigger in TRIGGERS.items():
    for _kind, _literals in (
        ("cased", _trigger.cased),
        ("lower", _trigger.lower),
        ("word", _trigger.words),
    ):
        for _literal in _literals:
            _BY_WORD.setdefault(_literal.lower(), []).append((_rule, _literal, _kind))
keywords.register(_BY_WORD)


def _literal_rules(found: keywords.Occurrences) -> set[str]:
    """The rules one of whose literals is in the text: read from the words the keyword pass
    found, not by looking for each literal."""
    fired: set[str] = set()
    for word in found.found() & _BY_WORD.keys():
        for rule, literal, kind in _BY_WORD[word]:
            if rule not in fired and (
                kind == "lower"
                or (kind == "cased" and found.has_cased(literal))
                or (kind == "word" and found.has_word(literal))
            ):
                fired.add(rule)
    return fired


def triggered(text: str, rule_ids: frozenset[str]) -> list[str]:
    """The rules of `rule_ids` that may match `text` (rules without a trigger always may)."""
    fired = _literal_rules(keywords.occurrences(text))
    return [
        rule
        for rule in rule_ids
        if (trigger := TRIGGERS.get(rule)) is None
        or rule in fired
        or (trigger.pattern is not None and trigger.pattern.search(text) is not None)
    ]
