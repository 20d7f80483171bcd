"""Detection quality on the evaluation corpus (a quality test, not a timing test).

The full figures, tuned and held-out per type and context: `python bench/redaction_corpus.py`
(docs/policies.md keeps the latest). Here a smaller draw of both halves guards against
regressions: the bars are the measured held-out figures less a margin for the smaller sample,
so a change that makes a detector less general fails here even when the tuning half still
passes.
"""

from __future__ import annotations

import pytest

from policies.tests.corpus import CATEGORIES, build, families, score
from policies.tests.corpus.dialects import through_walkers

BARS = {
    # category: (tuning, held-out) minimum recall
    "secrets": (0.99, 0.93),
    "pattern PII": (0.99, 0.96),
    "person names": (0.94, 0.92),
    "street addresses": (0.95, 0.91),
    "locations": (0.9, 0.8),
}


@pytest.fixture(scope="module")
def scores():
    return {split: score(build(split, seed=11, per_family=10)) for split in ("tuning", "heldout")}


def test_the_halves_are_separate_families_and_the_corpus_is_large_enough():
    tuning = {f.name for f in families("tuning")}
    heldout = {f.name for f in families("heldout")}
    assert not tuning & heldout
    assert len(tuning) >= 20 and len(heldout) >= 20
    # The bench's default draw (60 per family) is well over 3,000 cases.
    assert (len(tuning) + len(heldout)) * 60 >= 3000
    contexts = {f.context for f in families("heldout")}
    assert {"prose", "code", "dotenv", "yaml", "json", "kubernetes", "shell", "sql"} <= contexts


@pytest.mark.parametrize("category", list(CATEGORIES))
def test_recall_holds_on_both_halves(scores, category):
    tuning_bar, heldout_bar = BARS[category]
    for split, bar in (("tuning", tuning_bar), ("heldout", heldout_bar)):
        result = scores[split]
        assert result.recall(category) >= bar, (split, category, result.missed[:20])


def test_look_alikes_stay_intact(scores):
    for split in ("tuning", "heldout"):
        result = scores[split]
        assert result.fp_rate <= 0.01, (split, result.altered)
        assert result.negatives_code_logs.rate <= 0.01, (split, result.altered)


def test_the_walkers_redact_every_dialect_and_resends_are_byte_identical():
    report = through_walkers(build("heldout", seed=3, per_family=2))
    assert report.requests > 40 and report.resends_differing == 0
    assert report.leaked <= 0.08 * report.positives, report.leaks
    assert report.altered <= 0.02 * report.negatives
