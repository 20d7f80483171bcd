"""The tuning half: the detectors are developed against these families."""

from __future__ import annotations

from policies.tests.corpus.tuning import code, config, data, legacy, logs, more, prose

FAMILIES = [
    *prose.FAMILIES,
    *code.FAMILIES,
    *config.FAMILIES,
    *logs.FAMILIES,
    *data.FAMILIES,
    *legacy.FAMILIES,
    *more.FAMILIES,
]
