"""Where the detectors' words are in a block: one pass over its lower-cased text for all of them.

The prefilter's trigger literals, the label words of the labelled-value pass, the cue words
of the name finder, the anchor words of the pattern recognizers and the cue words of the
national identifiers are a few hundred literals. Looked for one at a time with `str.find`,
each one a pass over the text, they cost ~1 ms per 4 KB block, a quarter of the scan
(measured); one Aho-Corasick automaton (pyahocorasick, C) finds every occurrence of all of
them in one pass (~0.05 ms per 4 KB).

Each module registers its words when it is imported or its recognizers are built
(`register`); the automaton is built on the first scan after a registration. `occurrences`
gives a block's occurrences, computed once per text and thread (the detectors are called one
after the other with the same text object). A word nobody registered is still found, with
`str.find`: the answer never depends on the registration, only the speed does.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, KeysView

import ahocorasick

_lock = threading.Lock()
_words: set[str] = set()
# The automaton of the registered words and those words; emptied by a registration.
_built: list[tuple[ahocorasick.Automaton | None, frozenset[str]]] = []
_local = threading.local()
_NONE: tuple[int, ...] = ()
_ONE_CHAR_LOWER = {0x130: "i"}
# The non-ASCII letters a case-insensitive regex matches to an ASCII letter (the long s to "s", the
# Kelvin sign to "k"): in a text that has none, an ASCII word is in the lower-cased text
# exactly when such a regex would find it.
_FOLDS_TO_ASCII = "\u0130\u0131\u017f\u212a"


def register(words: Iterable[str]) -> None:
    """Add lower-case words to those found in one pass."""
    new = {w for w in words if w} - _words
    if new:
        with _lock:
            _words.update(new)
            _built.clear()


def _current() -> tuple[ahocorasick.Automaton | None, frozenset[str]]:
    if not _built:
        with _lock:
            if not _built:
                automaton = None
                if _words:
                    automaton = ahocorasick.Automaton()
                    for word in _words:
                        automaton.add_word(word, (word, len(word) - 1))
                    automaton.make_automaton()
                _built.append((automaton, frozenset(_words)))
    return _built[0]


class Occurrences:
    """The lower-cased text of a block and where each registered word starts in it."""

    def __init__(self, text: str) -> None:
        self.text = text
        lowered = text.lower()
        if len(lowered) != len(text):
            # One character has a longer lower case ("İ" gives "i" and a combining dot):
            # lowered as "i", every position in the lower-cased text is the same in the text.
            lowered = text.translate(_ONE_CHAR_LOWER).lower()
        self.lowered = lowered
        self.aligned = len(lowered) == len(text)  # else cased literals are looked for in the text
        automaton, self.registered = _current()
        places: dict[str, list[int]] = {}
        if automaton is not None:
            for end, (word, back) in automaton.iter(self.lowered):
                found = places.get(word)
                if found is None:
                    places[word] = [end - back]
                else:
                    found.append(end - back)
        self._places = places

    def places(self, word: str) -> list[int] | tuple[int, ...]:
        """Where `word` (lower case) starts in the lower-cased text, overlapping ones too, in
        order: the positions a `find(word, at + 1)` loop would give."""
        if word in self.registered:
            return self._places.get(word, _NONE)
        found = []
        at = self.lowered.find(word)
        while at >= 0:
            found.append(at)
            at = self.lowered.find(word, at + 1)
        return found

    @property
    def plain_case(self) -> bool:
        """No letter that a case-insensitive regex would read as another, ASCII, one."""
        text = self.text
        return text.isascii() or not any(c in text for c in _FOLDS_TO_ASCII)

    def found(self) -> KeysView[str]:
        """The registered words that are in the lower-cased text."""
        return self._places.keys()

    def has(self, word: str) -> bool:
        """`word` (lower case) is in the lower-cased text."""
        if word in self.registered:
            return word in self._places
        return word in self.lowered

    def has_cased(self, literal: str) -> bool:
        """`literal`, as written, is in the text."""
        lower = literal.lower()
        if not self.aligned or lower not in self.registered:
            return literal in self.text
        text = self.text
        return any(text.startswith(literal, at) for at in self._places.get(lower, _NONE))

    def has_word(self, word: str) -> bool:
        """`word` (lower case) stands alone somewhere: no letter or digit on either side."""
        lowered = self.lowered
        size = len(word)
        for at in self.places(word):
            end = at + size
            if not (at and lowered[at - 1].isalnum()) and not lowered[end : end + 1].isalnum():
                return True
        return False


def occurrences(text: str) -> Occurrences:
    """The occurrences of `text`, computed once for the last text this thread asked about."""
    slot = getattr(_local, "last", None)
    if slot is not None and slot.text is text and slot.registered is _current()[1]:
        return slot
    slot = Occurrences(text)
    _local.last = slot
    return slot
