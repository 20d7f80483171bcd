"""The labelled redaction corpus: templates filled with generated values, and its scoring.

`build(seed, copies)` instantiates every template `copies` times; `score(docs)` runs the
scanner with every pattern rule and reports recall per kind of positive and the share of
negatives altered. bench/redaction_corpus.py prints it; test_redaction_corpus asserts targets.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from policies.tests.corpus.templates import TEMPLATES
from policies.tests.corpus.values import Gen

_MARK = re.compile(r"⟦([+-])(\w+)⟧")
SECRET_KINDS = frozenset(
    {
        "aws_key",
        "aws_secret",
        "github_token",
        "gitlab_token",
        "openai_key",
        "anthropic_key",
        "google_key",
        "azure_key",
        "slack_token",
        "slack_webhook",
        "stripe_key",
        "sendgrid_key",
        "datadog_key",
        "npm_token",
        "pypi_token",
        "jwt",
        "private_key",
        "password",
        "gateway_key",
        "secret",
    }
)


@dataclass
class Doc:
    name: str
    text: str
    positives: list[tuple[str, int, int]] = field(default_factory=list)
    negatives: list[tuple[str, int, int]] = field(default_factory=list)


def instantiate(name: str, template: str, gen: Gen) -> Doc:
    parts: list[str] = []
    doc = Doc(name=name, text="")
    cursor = 0
    length = 0
    for match in _MARK.finditer(template):
        literal = template[cursor : match.start()]
        parts.append(literal)
        length += len(literal)
        value = getattr(gen, match.group(2))()
        target = doc.positives if match.group(1) == "+" else doc.negatives
        target.append((match.group(2), length, length + len(value)))
        parts.append(value)
        length += len(value)
        cursor = match.end()
    parts.append(template[cursor:])
    doc.text = "".join(parts)
    return doc


def build(seed: int = 5, copies: int = 12) -> list[Doc]:
    gen = Gen(seed)
    return [
        instantiate(name, template, gen)
        for _ in range(copies)
        for name, template in TEMPLATES.items()
    ]


@dataclass
class Score:
    found: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    total: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    negatives: int = 0
    altered: int = 0
    missed: list[tuple[str, str]] = field(default_factory=list)
    false_positives: list[tuple[str, str]] = field(default_factory=list)
    kb: float = 0.0

    def recall(self, kinds: frozenset[str] | None = None) -> float:
        keys = [k for k in self.total if kinds is None or k in kinds]
        total = sum(self.total[k] for k in keys)
        return sum(self.found[k] for k in keys) / total if total else 1.0

    @property
    def fp_rate(self) -> float:
        return self.altered / self.negatives if self.negatives else 0.0


def score(docs: list[Doc]) -> Score:
    """Recall: a positive counts as found when detections cover all of it. False positive: a
    negative that any detection touches."""
    from policies.redaction.engine import all_rule_config, scanner

    engine, config = scanner(), all_rule_config()
    result = Score()
    for doc in docs:
        spans = engine.scan_text(doc.text, config)
        result.kb += len(doc.text.encode()) / 1024
        for kind, start, end in doc.positives:
            result.total[kind] += 1
            covered = sum(max(0, min(end, e) - max(start, s)) for s, e, _t in spans)
            if covered >= end - start:
                result.found[kind] += 1
            else:
                result.missed.append((kind, doc.text[start:end]))
        for kind, start, end in doc.negatives:
            result.negatives += 1
            if any(s < end and e > start for s, e, _t in spans):
                result.altered += 1
                result.false_positives.append((kind, doc.text[start:end]))
    return result
