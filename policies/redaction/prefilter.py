"""A cheap pass that decides which recognizers can match a block at all.

Each rule has a trigger: a short stdlib-`re` pattern that every match of the rule contains (a
literal prefix like `ghp_`, an `@`, a digit shape). Presidio then runs only the recognizers
whose trigger fired, and a block with no trigger skips presidio altogether. Measured on the
corpus (~0.8 KB documents): presidio's fixed cost per analyze call and per recognizer (entity
filtering, context, score thresholds, the `regex` engine's per-call set-up) dominated small
blocks; the trigger searches cost well under a microsecond each.

Triggers are run as separate `search` calls rather than one alternation: each stops at its
first hit and keeps its literal-prefix fast path, where a combined pattern loses it and yields
every occurrence of the most frequent trigger to Python.
"""

from __future__ import annotations

import re

# rule: (pattern searched in the text, pattern searched in the lower-cased text). Every match
# of the rule contains a match of one of the two. The digit-shaped PII rules (SSN, card, IBAN,
# IP) have no trigger: measured, a trigger for them cost as much as the recognizer itself. Lower-case literals replace case-insensitive
# alternations, which neither regex engine can search quickly.
TRIGGERS: dict[str, tuple[str, str]] = {
    "email": (r"@[A-Za-z0-9]", ""),
    "phone": (r"\+[1-9]|\d{3}[-. )]", ""),
    "aws": (r"A(?:KIA|SIA|BIA|CCA|3T)", r"secret_?access|aws_?secret"),
    "github": (r"gh[pousr]_|github_pat_", ""),
    "gitlab": (r"gl[a-z]{1,5}-|GR1348941", ""),
    "openai": (r"sk-", ""),
    "anthropic": (r"sk-ant-", ""),
    "google": (r"AIza|GOCSPX-|ya29\.", ""),
    "azure": (r"Q~", r"accountkey|sharedaccesskey|sig=|ocp-apim|azure"),
    "slack": (r"xox[a-z]-|xapp-|hooks\.slack\.com", ""),
    "stripe": (r"_live_|_test_|whsec_", ""),
    "sendgrid": (r"SG\.", ""),
    "datadog": ("", r"dd[_-]?ap|datadog"),
    "npm": (r"npm_", ""),
    "pypi": (r"pypi-AgE", ""),
    "jwt": (r"eyJ", ""),
    "private_key": (r"PRIVATE KEY", ""),
    "connection_password": (r"://[^\s/@'\"`]*:[^\s@/'\"`]*@", ""),
    "gateway_key": (r"gw_(?:sk|pt)_", ""),
    "service_tokens": (
        r"hf_|SK[0-9a-f]{8}|key-[0-9a-f]|shp[a-z]{2}_|do[opr]_v1_|hv[sbr]\.|base64:|ATATT3|lin_|"
        r"secret_|ntn_|PMAK-|dp\.|gl(?:sa|c)_|NRAK-|sntr|sbp_|dapi|sq0|EAAA|:AA|pscale_|pul-|"
        r"atlasv1|AGE-SECRET|sk\.eyJ|sk-or-|gsk_|r8_|re_",
        "",
    ),
    "assigned_secret": (
        r"[\"'`][A-Za-z0-9]{20}|(?:^|\n)[\w.*-]+:(?:\d{1,5}|\*):[\w.*-]+:|-[pau] |--pass|[?&](?:code|sig)=",
        r"pass|pwd|secret|token|key|auth|credential|bearer|cookie|session|csrf|xsrf|sid|\bpw\b",
    ),
}

_COMPILED: dict[str, tuple[re.Pattern[str] | None, re.Pattern[str] | None]] = {
    rule: (re.compile(cased) if cased else None, re.compile(lower) if lower else None)
    for rule, (cased, lower) in TRIGGERS.items()
}


def triggered(text: str, rule_ids: frozenset[str]) -> list[str]:
    """The rules of `rule_ids` that may match `text` (rules without a trigger always may)."""
    found = []
    lowered: str | None = None
    for rule in rule_ids:
        patterns = _COMPILED.get(rule)
        if patterns is None:
            found.append(rule)
            continue
        cased, lower = patterns
        if cased is not None and cased.search(text) is not None:
            found.append(rule)
        elif lower is not None:
            if lowered is None:
                lowered = text.lower()
            if lower.search(lowered) is not None:
                found.append(rule)
    return found
