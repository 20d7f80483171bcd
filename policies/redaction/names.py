"""Person names in free text, offline: runs of capitalised words judged against gazetteers.

No model is loaded and nothing is downloaded: the decision uses the given-name and surname
lists and the English common-word list of policies.redaction.gazetteer, the shape of the words
and the words around them.

1. Candidates: runs of capitalised words separated by single spaces, with initials ("J.") and
   particles ("van", "de la", "bin") inside ("Maria Gonzalez", "Jean-Luc O'Brien", "Anna
   van der Berg"). A word with an inner capital counts only with a name prefix ("McDonald",
   "DeShawn", "MacLeod"): "UserService" is code.
2. A window of a run is a name when it is two or more name-like words and
   - it starts with a known given name and ends with a known surname, or with a word that is
     neither a common English word nor shaped like one ("-tion", "-ies", "-ed"...), or
   - it starts with an unknown name-shaped word and ends with a known surname;
   common words stop a window ("Max Retries Exceeded", "Grace Period", "Pull Request" are not
   names; "Customer Maria Gonzalez" gives "Maria Gonzalez").
3. Cues accept what the lists do not know: a title or greeting before ("Mr.", "Dr", "Dear",
   "Hi", "Thanks"), an e-mail address after ("Name <a@b.c>", git author lines), a sign-off line.

What it misses (measured in bench/redaction_corpus.py): a single given name with no cue, two
unknown words with no cue ("Lashonda Quattlebaum" far from any clue), names written in lower
case or all capitals, and non-Latin scripts.
"""

from __future__ import annotations

import bisect
import re
from typing import Any

import regex

from policies.redaction import keywords
from policies.redaction.gazetteer import Gazetteer, gazetteer

_L = r"\p{Ll}"
_U = r"\p{Lu}"
# A capitalised word: "Maria", "O'Brien", "McDonald", "Jean-Luc", "Smith-Jones".
TOKEN = rf"(?:{_U}{_L}+(?:['’]{_U}?{_L}+)?(?:{_U}{_L}+)?(?:-{_U}{_L}+)*|{_U}['’]{_U}{_L}+(?:-{_U}{_L}+)*)"
_PARTICLES = (
    "van|von|der|den|de|del|della|dei|di|da|das|do|dos|du|la|le|las|los|bin|binti|ibn|al|el|"
    "ter|ten|zu|y|e|af|av|St\\.?"
)
_SEP = r"[ \u00a0]"
_INITIAL = rf"{_U}\."
# The left boundary (not after a letter, a dot, "@", "$", "/") is checked in Python: a
# look-behind first makes the engine try every position (measured ~3x slower).
_RUN = regex.compile(
    rf"(?P<run>{TOKEN}(?:{_SEP}(?:{_INITIAL}{_SEP}|(?:{_PARTICLES}){_SEP}){{0,3}}{TOKEN})+)"
)
_RUN_LEFT = frozenset("._@#$/\\")
_RUN_SEP = frozenset(" \u00a0")
_WORD = regex.compile(rf"{TOKEN}|{_INITIAL}|(?:{_PARTICLES})(?={_SEP})")
_NAME_PREFIXES = ("Mc", "Mac", "De", "Di", "Da", "Du", "La", "Le", "Van", "Von", "Fitz", "St")
# Endings of English words that surnames do not have (unless the surname is in the list).
_WORDY = regex.compile(
    r"(?:tion|sion|ment|ness|ings|able|ible|ity|ive|ous|ism|ize|ise|ful|less|ship|ance|"
    r"ence|ics|ogy|ware)$"
)
# Endings surnames share with English word forms ("Keithly", "McWatters", "Ahmed", "Davies",
# "Gregory"): English only when what is left is a common word ("quickly", "users", "exceeded",
# "retries", "factory" read as "fact").
_WORDY_IF_STEM = (
    ("ies", "y"),
    ("ied", "y"),
    ("ed", ""),
    ("ed", "e"),
    ("ly", ""),
    ("ly", "le"),
    ("ily", "y"),
    ("ers", ""),
    ("ers", "e"),
    ("ory", ""),
    ("ory", "e"),
)
_TITLES = frozenset("mr mrs ms mx dr prof sir dame herr frau mme mlle sr sra srta dott ing".split())
_GREETINGS = frozenset(
    "dear hi hello hey thanks thank cheers regards attn hallo bonjour hola ciao".split()
)
# Words that, right before a name (with an optional ".", ":" or ","), say it is one. Checked
# by reading the last two words before the name, not with a regex over the window (a
# 60-word alternation tried at 40 positions cost more than the rest of the name pass).
_CUE_WORDS = frozenset(
    "mr mrs ms mx dr prof sir dame herr frau mme mlle sr sra srta dear hi hello hey thanks "
    "cheers regards attn hallo bonjour hola ciao signed-off-by co-authored-by reviewed-by "
    "reported-by acked-by tested-by author from to cc by with contact caller customer patient "
    "recipient applicant employee on-call reviewer owner assignee name named called signed "
    "sincerely".split()
)
_CUE_PAIRS = frozenset({("thank", "you"), ("spoke", "to"), ("talked", "to")})
# Prepositions among the cue words: "from Maria Gonzalez", but also "switch to Grace Period",
# "reported by Max Retries", "go to Mark As Read". After them a run is a name only when its
# words are not common English words; a title, a greeting or a label says more.
_WEAK_CUE_WORDS = frozenset("from to cc by with".split())
WEAK, STRONG = 1, 2
_CUE_TRAIL = " \t.:,=\"'"
# A capitalised word (greedy: it ends where word characters do); that it does not start
# inside a word is checked in Python, where a look-behind would make the engine try every
# position.
_CAPITALISED = regex.compile(r"\p{Lu}[\w'’-]+")
_EMAIL_AFTER = regex.compile(r"[ \t]*[<(\[][\w.+-]+@[\w-]+(?:\.[\w-]+)+[>)\]]")
# Cue words are found with the standard library's engine (a literal alternation it searches
# quickly), the name after them with TOKEN at that position.
# Cue words before a single name, found by the keyword pass of policies.redaction.keywords
# over the lower-cased text (a regex alternation of them costs ~0.05 ms per KB): "strong" ones (titles, greetings, sign-offs on
# the same line) take any name-shaped word, "weak" ones only a known given name, "sign_off"
# ones a known given name alone on the next line.
_STRONG_CUES = (
    "mr",
    "mrs",
    "ms",
    "mx",
    "dr",
    "prof",
    "herr",
    "frau",
    "mme",
    "sr",
    "sra",
    "dear",
    "hi",
    "hello",
    "hey",
    "thanks",
    "cheers",
    "hallo",
    "bonjour",
    "hola",
    "ciao",
    "regards,",
    "sincerely,",
    "best,",
)
_WEAK_CUES = (
    "from",
    "by",
    "with",
    "to",
    "ask",
    "asked",
    "tell",
    "told",
    "ping",
    "pinged",
    "cc",
    "call",
    "called",
    "met",
    "email",
    "emailed",
    "contact",
    "attn",
    "spoke to",
)
_SIGN_OFFS = ("thanks", "thank you", "cheers", "regards", "best", "sincerely", "br")
_CUE_GAP = regex.compile(r"[.,:!]?[ \t]+")
_SIGN_OFF_GAP = regex.compile(r"[,!.]?[ \t]*\r?\n[ \t]*")
_DASH_SIGN_OFF = regex.compile(r"(?:^|\n)[ \t]*[—–][ \t]*")


keywords.register((*_STRONG_CUES, *_WEAK_CUES, *_SIGN_OFFS))


def _cue_ends(text: str, found: keywords.Occurrences) -> list[tuple[int, str]]:
    """(where the name would start, kind) after each cue word of the text."""
    lowered = found.lowered
    out: list[tuple[int, str]] = []
    for words, kind in ((_STRONG_CUES, "strong"), (_WEAK_CUES, "weak"), (_SIGN_OFFS, "sign_off")):
        if kind == "sign_off" and "\n" not in text:
            continue
        for word in words:
            size = len(word)
            for at in found.places(word):
                end = at + size
                if (not at or not lowered[at - 1].isalnum()) and not lowered[
                    end : end + 1
                ].isalpha():
                    gap = (_SIGN_OFF_GAP if kind == "sign_off" else _CUE_GAP).match(text, end)
                    # Titles and greetings are written with a capital ("Dr", "Hi"); "to"/"by"
                    # are not: weak cues take either.
                    if gap is not None and (
                        kind != "strong" or text[at].isupper() or word.endswith(",")
                    ):
                        out.append((gap.end(), kind))
    if "—" in text or "–" in text:
        out.extend((m.end(), "sign_off") for m in _DASH_SIGN_OFF.finditer(text))
    return out


# A given name alone, then a verb people are the subject of: "Robert runs platform", "Maria
# said", "Priya wants SSO". No auxiliary verbs: "Paris is", "Sydney has" are places.
_PERSON_VERBS = (
    "said says asked asks wrote writes replied replies mentioned confirmed agreed agrees wants "
    "wanted needs needed runs ran leads led manages managed owns joined joins prefers preferred "
    "suggested suggests noted explained explains thinks thought knows called emailed sent shared "
    "signed approved reviewed requested promised offered complained reported told tells works "
    "worked lives lived moved handles handled"
).split()
_PERSON_VERB_SET = frozenset(_PERSON_VERBS)
_LOWER_WORD_AFTER = re.compile(r"[ \t]+([a-z]+)(?![\w-])")
# A chat or transcript speaker: "[10:04] Maria: ...", "Tom: sure" (a known given name only).
_SPEAKER = re.compile(r"(?:^|\n)(?:\[[^\]\n]{1,40}\][ \t]*)?(?=[^\W\d_][\w'’-]*:[ \t])")
_TOKEN_AT = regex.compile(rf"{TOKEN}(?![\w'’-])")
_SIGN_OFF_LINE = regex.compile(rf"{TOKEN}(?:[ \t]{TOKEN}){{0,2}}(?=[ \t]*(?:\r?\n|$))")


class NameFinder:
    def __init__(self, lists: Gazetteer | None = None) -> None:
        self.lists = lists or gazetteer()

    # ---- word classes --------------------------------------------------------------------
    def is_given(self, word: str) -> bool:
        if word in self.lists.given:
            return True
        parts = word.split("-")
        return len(parts) > 1 and all(p in self.lists.given for p in parts)

    def is_surname(self, word: str) -> bool:
        if word in self.lists.surnames:
            return True
        parts = word.split("-")
        return len(parts) > 1 and any(p in self.lists.surnames for p in parts)

    def is_common(self, word: str) -> bool:
        if "-" not in word:
            return word.lower() in self.lists.common
        return all(part.lower() in self.lists.common for part in word.split("-"))

    def wordy_name(self, word: str) -> bool:
        """A common word, or a name that is a frequent English word too ("Grace", "Max")."""
        return word in self.lists.name_words or self.is_common(word)

    def common_form(self, word: str) -> bool:
        """A common word or a regular inflection of one: "Retries", "Exceeded", "Gems"."""
        if self.is_given(word) or self.is_surname(word):
            return self.is_common(word)
        lower = word.lower()
        if lower in self.lists.common:
            return True
        for suffix, replacement in (("ies", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e")):
            if lower.endswith(suffix) and lower[: -len(suffix)] + replacement in self.lists.common:
                return True
        return False

    def shaped(self, word: str) -> bool:
        """Name-shaped: no inner capital except after a name prefix, not an English word form."""
        inner = any(c.isupper() for c in word[1:].replace("-", "").replace("'", ""))
        if inner and not (
            word.startswith(_NAME_PREFIXES)
            or "'" in word
            or "’" in word
            or "-" in word
            or word in self.lists.given
            or word in self.lists.surnames
        ):
            return False
        lower = word.lower()
        if len(word) < 2 or _WORDY.search(lower) is not None:
            return False
        common = self.lists.common
        return not any(
            lower.endswith(suffix) and lower[: -len(suffix)] + stem in common
            for suffix, stem in _WORDY_IF_STEM
        )

    def name_like(self, word: str) -> bool:
        """Could be part of a name: known, or an unknown name-shaped non-word."""
        if self.is_given(word) or self.is_surname(word):
            return True
        return not self.is_common(word) and self.shaped(word)

    # ---- finding -------------------------------------------------------------------------
    def find(self, text: str) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        # The capitalised words of the text, read once (a single-class scan): where runs may
        # start, the names before a verb, the later mentions of names. A run is tried only at
        # a capitalised word with a space after it (the run pattern, tried by its engine at
        # every capital letter, cost more than the rest of the name pass).
        words = list(_CAPITALISED.finditer(text))
        reach = 0
        for word in words:
            start, end = word.span()
            if start < reach or text[end : end + 1] not in _RUN_SEP:
                continue
            if start and (text[start - 1].isalnum() or text[start - 1] in _RUN_LEFT):
                continue
            match = _RUN.match(text, start)
            if match is not None:
                spans.extend(self._run(text, start, match.end("run")))
                reach = match.end("run")
        for speaker in _SPEAKER.finditer(text):
            match = _TOKEN_AT.match(text, speaker.end())
            if match is not None and text[match.end() : match.end() + 1] == ":":
                word = match.group()
                if self.is_given(word) and not self.is_common(word):
                    spans.append(match.span())
        capitalised = [
            m
            for m in words
            if not m.start() or not (text[m.start() - 1].isalnum() or text[m.start() - 1] in "_'’-")
        ]
        given = self.lists.given
        for match in capitalised:
            word = match.group()
            if word not in given and "-" not in word:
                continue
            start, end = match.span()
            verb = _LOWER_WORD_AFTER.match(text, end)
            if (
                verb is not None
                and verb.group(1) in _PERSON_VERB_SET
                and (not start or text[start - 1] not in _RUN_LEFT)
                and self.is_given(word)
                and not self.is_common(word)
                and not _inside(spans, start, end)
            ):
                spans.append((start, end))
        for cue_end, kind in _cue_ends(text, keywords.occurrences(text)):
            match = _TOKEN_AT.match(text, cue_end)
            if match is None:
                continue
            if kind == "sign_off":
                match = _SIGN_OFF_LINE.match(text, match.start())
                if match is None:
                    continue
            word = match.group().split()[0]
            start, end = match.span()
            if (
                not self.is_common(word)
                and self.shaped(word)
                and not _inside(spans, start, end)
                and (kind == "strong" or self.is_given(word))
                and not (
                    kind == "weak" and self.wordy_name(word) and self._phrase_goes_on(text, end)
                )
            ):
                spans = [sp for sp in spans if not (start <= sp[0] and sp[1] <= end)]
                spans.append((start, end))
        return self._mentions(text, spans, capitalised)

    def _phrase_goes_on(self, text: str, end: int) -> bool:
        """Capitalised words right after, one of them a common word or a form of one: "to
        Grace Period", "by Max Retries", "to Austin Power Supply"."""
        for _ in range(3):
            if text[end : end + 1] != " ":
                return False
            following = _TOKEN_AT.match(text, end + 1)
            if following is None:
                return False
            if self.common_form(following.group()):
                return True
            end = following.end()
        return False

    def _mentions(
        self, text: str, spans: list[tuple[int, int]], capitalised: list[Any]
    ) -> list[tuple[int, int]]:
        """Add the later mentions of a name found in full: "Maria Gonzalez ... Maria said",
        "Mr. Kowalski ... Kowalski agreed" (the first and last word of each name, alone).
        One pass over the capitalised words of the text, whatever the number of names."""
        words = set()
        for start, end in spans:
            parts = text[start:end].split()
            if len(parts) >= 2:
                words.update(
                    w for w in (parts[0], parts[-1]) if len(w) >= 3 and not self.is_common(w)
                )
        if not words:
            return spans
        taken = sorted(spans)
        starts = [s for s, _e in taken]
        out = list(spans)
        for match in capitalised:
            if match.group() not in words:
                continue
            at, end = match.span()
            before = text[at - 1 : at]
            if before in ("_", "@", ".") or text[end : end + 1] == "@":
                continue
            index = bisect.bisect_right(starts, at) - 1
            if index >= 0 and taken[index][1] > at:
                continue  # inside a name already found
            out.append((at, end))
        return out

    def _run(self, text: str, start: int, end: int) -> list[tuple[int, int]]:
        after = text[end : end + 2]
        if after[:1] == "(" or (after[:1] in ".:" and after[1:2].isalnum()):
            return []  # a call or an attribute: code
        words = [
            (m.group(), start + m.start(), start + m.end()) for m in _WORD.finditer(text[start:end])
        ]
        found: list[tuple[int, int]] = []
        i = 0
        while i < len(words):
            word = words[i][0]
            if word.endswith(".") or word[0].islower() or not self.name_like(word):
                i += 1
                continue
            j = i
            real = [i]
            k = i + 1
            while k < len(words):
                nxt = words[k][0]
                if nxt.endswith(".") or nxt[0].islower():  # initial or particle
                    k += 1
                    continue
                if not self.name_like(nxt):
                    # A capitalised word still ends the name after a particle ("Ruben de
                    # Groot") or as the second word after a cue ("contact: Russell Angst").
                    after_particle = words[k - 1][0][0].islower()
                    if (
                        after_particle
                        or (
                            len(real) == 1
                            and (cue := self._cue(text, words[i][1], words[k][2]))
                            and (
                                cue == STRONG
                                or not self.common_form(nxt)
                                or not self.wordy_name(words[i][0])
                            )
                        )
                    ) and not nxt.endswith("."):
                        real.append(k)
                        j = k
                    break
                real.append(k)
                j = k
                k += 1
            span = self._judge(text, words, real, found)
            # A title goes on after the "name" with a common word ("Austin Power Supply",
            # "Grace Hopper Award"): a phrase, unless a cue says otherwise.
            following = words[j + 1][0] if j + 1 < len(words) else ""
            if (
                span is not None
                and following[:1].isupper()
                and not following.endswith(".")
                and self.is_common(following)
                and self._cue(text, span[0], span[1]) != STRONG
            ):
                span = None
            if span is not None:
                found.append(span)
                i = j + 1
            else:
                i += 1
        return found

    def _cue(self, text: str, start: int, end: int) -> int:
        """STRONG: a title, greeting or label before the name, or an e-mail address after it;
        WEAK: a preposition before it ("from", "to", "by"); 0: neither."""
        if _EMAIL_AFTER.match(text, end):
            return STRONG
        window = text[max(0, start - 40) : start]
        # "name: Maria Gonzalez", and a quoted value under a key: name="...", 'customer': '...'
        if (window and window[-1] in " \t") or (
            window[-1:] in ('"', "'") and window[-2:-1] in "=: "
        ):
            words = [w.strip("\"'{[(,") for w in window.rstrip(_CUE_TRAIL).lower().split()]
            if words and len(words) > 1 and (words[-2], words[-1]) in _CUE_PAIRS:
                return STRONG
            if words and words[-1] in _CUE_WORDS:
                return WEAK if words[-1] in _WEAK_CUE_WORDS else STRONG
        return 0

    def _judge(
        self,
        text: str,
        words: list[tuple[str, int, int]],
        real: list[int],
        found: list[tuple[int, int]],
    ) -> tuple[int, int] | None:
        first, last = words[real[0]], words[real[-1]]
        start, end = first[1], last[2]
        cue = self._cue(text, start, end)
        if cue == WEAK and self.wordy_name(first[0]):
            # After a preposition, a name that is also an English word, then common words, is
            # a phrase: "to Grace Period", "by Max Retries" (but "with Douglass Cruel").
            if any(self.common_form(words[i][0]) for i in real[1:]):
                return None
            if len(real) < 2 and self._phrase_goes_on(text, end):
                return None
        if cue == WEAK and len(real) < 2 and not self.is_given(first[0]):
            return None
        if len(real) < 2:
            return (start, end) if cue and not self.is_common(first[0]) else None
        given_first = self.is_given(first[0])
        surname_last = self.is_surname(last[0])
        particle = real[-1] - real[-2] > 1  # "Anna van der Berg", "Ruben de Groot"
        if given_first and (surname_last or particle or not self.is_common(last[0])):
            return start, end
        if particle and self.shaped(first[0]) and not self.is_common(first[0]):
            return start, end
        if surname_last and not self.is_common(first[0]) and self.shaped(first[0]):
            return start, end
        if cue and (
            given_first
            or surname_last
            or (not self.is_common(first[0]) and not self.is_common(last[0]))
        ):
            return start, end
        return None


def _inside(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(s <= start and end <= e for s, e in spans)
