"""Detection quality on the labelled corpus (a quality test, not a timing test).

Targets of issue 6: recall ≥ 99 % for secrets and for pattern PII, false positives ≤ 1 % of
the values that must stay intact. Figures: `python bench/redaction_corpus.py`.
"""

from __future__ import annotations

import pytest

from policies.tests.corpus import SECRET_KINDS, build, score


@pytest.mark.parametrize("seed", [5, 23])
def test_the_scanner_meets_the_recall_and_false_positive_targets(seed):
    result = score(build(seed=seed, copies=8))
    pii_kinds = frozenset(result.total) - SECRET_KINDS
    assert result.recall(SECRET_KINDS) >= 0.99, result.missed
    assert result.recall(pii_kinds) >= 0.99, result.missed
    assert result.fp_rate <= 0.01, result.false_positives
    assert len(result.total) == 26 and result.negatives > 500


def test_every_kind_of_secret_and_pii_is_found_at_least_most_of_the_time():
    result = score(build(seed=41, copies=4))
    for kind, total in result.total.items():
        assert result.found[kind] / total >= 0.9, (kind, result.missed)
