"""Score the redaction scanner on the labelled corpus: recall per kind, false-positive rate.

    python bench/redaction_corpus.py [--seed 5] [--copies 12] [--baseline] [--show-misses]

The corpus (policies/tests/corpus) is realistic documents a coding agent sends (code, .env,
CI logs, stack traces, SQL dumps, support transcripts, configs, shell sessions) filled with
generated fake values. Targets (issue 6): recall ≥ 99 % for secrets and for pattern PII,
false positives ≤ 1 % of the negative values. `--baseline` also scores presidio's predefined
pattern recognizers as they come (no NER model: none can be installed here).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_site.settings")


def _baseline(docs: list) -> tuple[float, float, float]:
    """(secret recall, pattern-PII recall, fp rate) of presidio's predefined recognizers."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine

    from policies.tests.corpus import SECRET_KINDS

    nlp = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(nlp_engine=nlp, languages=["en"])
    engine = AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])
    found = {True: 0, False: 0}
    total = {True: 0, False: 0}
    negatives = altered = 0
    for doc in docs:
        spans = [
            (r.start, r.end) for r in engine.analyze(doc.text, language="en") if r.score >= 0.3
        ]
        for kind, start, end in doc.positives:
            secret = kind in SECRET_KINDS
            total[secret] += 1
            covered = sum(max(0, min(end, e) - max(start, s)) for s, e in spans)
            found[secret] += covered >= end - start
        for _kind, start, end in doc.negatives:
            negatives += 1
            altered += any(s < end and e > start for s, e in spans)
    return found[True] / total[True], found[False] / total[False], altered / negatives


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--copies", type=int, default=12)
    parser.add_argument("--baseline", action="store_true")
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args()

    import logging

    import django

    django.setup()
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    from policies.redaction.engine import scanner
    from policies.tests.corpus import SECRET_KINDS, build, score

    docs = build(seed=args.seed, copies=args.copies)
    baseline = _baseline(docs) if args.baseline else None
    scanner()  # built once per process: not part of the scan time
    started = time.perf_counter()
    result = score(docs)
    elapsed = time.perf_counter() - started
    positives = sum(result.total.values())
    print(
        f"corpus: {len(docs)} documents, {result.kb:.0f} KB, {positives} positives, "
        f"{result.negatives} negatives (seed {args.seed})"
    )
    print(f"{'kind':16s} {'class':8s} {'found':>7s} {'recall':>8s}")
    for kind in sorted(result.total, key=lambda k: (k not in SECRET_KINDS, k)):
        cls = "secret" if kind in SECRET_KINDS else "pii"
        recall = result.found[kind] / result.total[kind]
        print(
            f"{kind:16s} {cls:8s} {result.found[kind]:>3d}/{result.total[kind]:<3d} {recall:8.1%}"
        )
    pii_kinds = frozenset(result.total) - SECRET_KINDS
    print(f"recall secrets      {result.recall(SECRET_KINDS):.2%}  (target ≥ 99%)")
    print(f"recall pattern PII  {result.recall(pii_kinds):.2%}  (target ≥ 99%)")
    print(
        f"false positives     {result.altered}/{result.negatives} = {result.fp_rate:.2%}  (target ≤ 1%)"
    )
    print(f"scan time           {elapsed * 1000 / result.kb:.3f} ms/KB (first scan, no cache)")
    if args.show_misses:
        for kind, value in result.missed:
            print(f"  missed {kind}: {value[:60]!r}")
        for kind, value in result.false_positives:
            print(f"  altered {kind}: {value[:60]!r}")
    if baseline is not None:
        secrets_recall, pii_recall, fp = baseline
        print(
            f"presidio predefined pattern recognizers (baseline): recall secrets {secrets_recall:.1%}, "
            f"pattern PII {pii_recall:.1%}, false positives {fp:.1%}"
        )


if __name__ == "__main__":
    main()
