"""The scanner: one presidio AnalyzerEngine per process, curated recognizers, per-block cache.

Built lazily on first use (`scanner()`), never per request. Without settings.GATEWAY_PII_NLP_MODEL
the engine gets presidio's NoOpNlpEngine (no spaCy model is loaded): person names, street
addresses and places come from the offline recognizers of policies.redaction.contextual
(gazetteers, address grammars, labels), and the NRP rule does nothing. With the setting,
presidio's spaCy engine loads that model and its NER recognizer adds PERSON, LOCATION and NRP
on top.

`scan_text` returns (start, end, type) spans with overlaps resolved (highest priority, then
longest, wins) and is what the per-block cache stores.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry, RecognizerResult
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
from presidio_analyzer.nlp_engine import NoOpNlpEngine

from policies.redaction import rules as catalogue
from policies.redaction.cache import Spans, block_key, scan_cache
from policies.redaction.contextual import build_context_recognizers
from policies.redaction.personal import build_personal_recognizers
from policies.redaction.prefilter import triggered
from policies.redaction.recognizers import (
    ENTITY_PREFIX,
    GatewayRecognizer,
    ScanTimeout,
    build_recognizers,
    deadline_remaining,
    set_deadline,
)

ENGINE_VERSION = "6"  # part of every cache key: bump when recognizers change
_NER_TYPES = {"PERSON": "PERSON", "LOCATION": "LOCATION", "GPE": "LOCATION", "NRP": "NRP"}
_NER_RULE_FOR_ENTITY = {"PERSON": "person", "LOCATION": "location", "NRP": "nrp"}
CUSTOM_PATTERN_TIMEOUT = 2.0  # seconds, when a scan runs without a deadline (tests, the CLI)


@dataclass(frozen=True, slots=True)
class ScanConfig:
    """What to look for: rule ids and compiled custom patterns; `fingerprint` keys the cache."""

    rule_ids: frozenset[str]
    custom: tuple[tuple[str, str], ...] = ()

    @property
    def fingerprint(self) -> str:
        return _fingerprint(self.rule_ids, self.custom)


@lru_cache(maxsize=1024)
def _fingerprint(rule_ids: frozenset[str], custom: tuple[tuple[str, str], ...]) -> str:
    raw = repr((ENGINE_VERSION, sorted(rule_ids), custom)).encode()
    return hashlib.sha256(raw).hexdigest()[:24]


class _NoContext(ContextAwareEnhancer):
    """Our recognizers decide with validators, not context words: skip that pass."""

    def __init__(self) -> None:
        super().__init__(0, 0, 0, 0)

    def enhance_using_context(
        self, text: str, raw_results: list[RecognizerResult], *args: Any, **kwargs: Any
    ) -> list[RecognizerResult]:
        return raw_results


class CustomRecognizer(GatewayRecognizer):
    """An admin's regex: runs with the time left before the scan's deadline as its timeout."""

    def match_timeout(self) -> float | None:
        remaining = deadline_remaining()
        return CUSTOM_PATTERN_TIMEOUT if remaining is None else remaining

    def find(self, text: str) -> list[tuple[int, int, int, str]]:
        try:
            return super().find(text)
        except TimeoutError as exc:
            raise ScanTimeout(f"custom pattern {self.rule_id!r} ran out of time") from exc


def custom_type(name: str) -> str:
    return "CUSTOM_" + "".join(c if c.isalnum() else "_" for c in name.upper())[:40]


class Scanner:
    def __init__(self, nlp_model: str = "") -> None:
        # presidio logs at INFO on every analyze call: noise, and time, on the hot path.
        logging.getLogger("presidio-analyzer").setLevel(logging.WARNING)
        self.nlp_model = nlp_model
        registry = RecognizerRegistry(supported_languages=["en"])
        # A rule may have several recognizers (phone: the pattern one and the national-form
        # one); they share the rule's entity, placeholder type and priority.
        self.recognizers: list[Any] = [
            *build_recognizers(),
            *build_context_recognizers(),
            *build_personal_recognizers(),
        ]
        self.rule_ids = frozenset(r.rule_id for r in self.recognizers)
        for recognizer in self.recognizers:
            registry.add_recognizer(recognizer)
        nlp_engine: Any
        if nlp_model:
            from presidio_analyzer.nlp_engine import NlpEngineProvider

            nlp_engine = NlpEngineProvider(
                nlp_configuration={
                    "nlp_engine_name": "spacy",
                    "models": [{"lang_code": "en", "model_name": nlp_model}],
                }
            ).create_engine()
            registry.add_nlp_recognizer(nlp_engine=nlp_engine)
        else:
            nlp_engine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
        self.analyzer = AnalyzerEngine(
            registry=registry,
            nlp_engine=nlp_engine,
            supported_languages=["en"],
            context_aware_enhancer=_NoContext(),
        )
        self._custom: dict[tuple[tuple[str, str], ...], list[CustomRecognizer]] = {}
        self._lock = threading.Lock()

    def _entities(self, text: str, config: ScanConfig) -> list[str]:
        """Entities of the configured rules whose trigger fires in `text` (policies.redaction.prefilter)."""
        entities = [
            ENTITY_PREFIX + rid.upper()
            for rid in triggered(text, config.rule_ids)
            if rid in self.rule_ids
        ]
        if self.nlp_model:
            entities += [e for e, rid in _NER_RULE_FOR_ENTITY.items() if rid in config.rule_ids]
        return entities

    def _custom_recognizers(self, custom: tuple[tuple[str, str], ...]) -> list[CustomRecognizer]:
        with self._lock:
            found = self._custom.get(custom)
            if found is None:
                found = [
                    CustomRecognizer(
                        rule_id=f"custom_{i}",
                        placeholder_type=custom_type(name),
                        patterns=[(name, pattern)],
                        priority=60,
                    )
                    for i, (name, pattern) in enumerate(custom)
                ]
                if len(self._custom) > 256:
                    self._custom.clear()
                self._custom[custom] = found
            return found

    def scan_text(self, text: str, config: ScanConfig) -> Spans:
        """Detected spans in `text`, sorted, non-overlapping."""
        entities = self._entities(text, config)
        ad_hoc = self._custom_recognizers(config.custom) if config.custom else []
        entities += [r.supported_entities[0] for r in ad_hoc]
        if not entities or not text:
            return ()
        # Our recognizers are called directly: presidio's orchestration around them (entity
        # filtering, context enhancement, score thresholds, de-duplication, per-result
        # explanations) cost ~0.2 ms per KB and decides nothing here, where overlaps are
        # resolved below. Presidio's engine still runs the spaCy NER recognizer when a model
        # is configured.
        wanted = set(entities)
        candidates: list[tuple[int, int, int, str]] = []
        for recognizer in [*self.recognizers, *ad_hoc]:
            if recognizer.supported_entities[0] in wanted:
                candidates.extend(recognizer.find(text))
        ner_entities = [e for e in entities if e in _NER_RULE_FOR_ENTITY]
        if ner_entities:
            for result in self.analyzer.analyze(text=text, language="en", entities=ner_entities):
                type_ = _NER_TYPES.get(result.entity_type)
                if type_ is not None:
                    candidates.append((20, result.start, result.end, type_))
        return resolve_overlaps(candidates)

    def scan_blocks(
        self, texts: list[str], config: ScanConfig, deadline: float | None = None
    ) -> list[Spans]:
        """Spans for each text, from the cache when this text was seen under this config."""
        return [spans for _key, spans in self.scan_keyed(texts, config, deadline)]

    def scan_keyed(
        self, texts: list[str], config: ScanConfig, deadline: float | None = None
    ) -> list[tuple[bytes, Spans]]:
        """(cache key, spans) for each text: the key also finds the block's placeholders
        (policies.redaction.cache)."""
        cache = scan_cache()
        fingerprint = config.fingerprint
        out: list[tuple[bytes, Spans]] = []
        set_deadline(deadline)
        try:
            for text in texts:
                key = block_key(fingerprint, text)
                spans = cache.get(key)
                if spans is None:
                    if deadline is not None and time.monotonic() > deadline:
                        raise ScanTimeout("scan time limit reached")
                    spans = self.scan_text(text, config)
                    cache.put(key, spans)
                out.append((key, spans))
        finally:
            set_deadline(None)
        return out


def resolve_overlaps(candidates: list[tuple[int, int, int, str]]) -> Spans:
    """Keep the highest-priority, then longest, of overlapping (priority, start, end, type)."""
    starts: list[int] = []  # chosen spans, kept sorted and disjoint: one bisect per candidate
    chosen: list[tuple[int, int, str]] = []
    for _prio, start, end, type_ in sorted(candidates, key=lambda c: (-c[0], c[1] - c[2], c[1])):
        at = bisect.bisect_right(starts, start)
        if at and chosen[at - 1][1] > start:
            continue
        if at < len(chosen) and chosen[at][0] < end:
            continue
        starts.insert(at, start)
        chosen.insert(at, (start, end, type_))
    return tuple(chosen)


_scanner_lock = threading.Lock()
_scanner: list[Scanner] = []


def scanner() -> Scanner:
    """The process's scanner, built once (thread-safe) with settings.GATEWAY_PII_NLP_MODEL."""
    if not _scanner:
        with _scanner_lock:
            if not _scanner:
                _scanner.append(Scanner(getattr(settings, "GATEWAY_PII_NLP_MODEL", "")))
    return _scanner[0]


def all_rule_config() -> ScanConfig:
    return ScanConfig(rule_ids=frozenset(r.id for r in catalogue.ALL_RULES))
