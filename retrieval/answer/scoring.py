"""How well each piece of the sources answers the question (the method as a whole is in
:mod:`retrieval.answer.extractive`).

Per piece: each question term in it adds its IDF over all pieces of all sources; a pair of
question terms adjacent in both adds their IDF again (``PAIR_WEIGHT``); question terms found
only in its context (page title, heading path, the heading above it, its list's lead-in) add
``CONTEXT_WEIGHT`` of theirs. When the question asks for a time ("when", "how long", "which
days") or an amount ("how many", "how much", a limit), a piece holding one adds ``CUE_WEIGHT``
of the best question term, and a piece without one counts ``CUE_MISSING`` of its score; the
asking words themselves are not content ("days" in "which days do payments go out"). A piece
with no question term of its own scores 0. Long pieces are damped, and the score is divided by
``1 + RANK_DECAY * (rank - 1)`` for the source's rank in the search.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from retrieval.answer.base import Source
from retrieval.answer.sentences import Unit, units
from retrieval.answer.words import matching, pairs, words

CONTEXT_WEIGHT = 0.3
PAIR_WEIGHT = 0.5
CUE_WEIGHT = 0.5
CUE_MISSING = 0.5  # a piece without the time or amount the question asks for counts this much
RANK_DECAY = 0.5  # the 1st to 5th sources weigh 1, 0.67, 0.5, 0.4, 0.33

# Questions that want a time (a date, a day, a duration) or an amount; the matched words are
# the cue, not content.
_TIME_QUESTION_RE = re.compile(
    r"\b(?:when|until|deadline|how (?:long|early|late|soon|often|fast|quickly)|"
    r"(?:what|which) (?:time|date|days?|months?|hours?))\b",
    re.IGNORECASE,
)
_AMOUNT_QUESTION_RE = re.compile(r"\bhow (?:many|much|big|large|old|far|high)\b", re.IGNORECASE)
_LIMIT_RE = re.compile(r"\b(?:limit|maximum|minimum|max|min)\b", re.IGNORECASE)
# ... and pieces that have one.
_TIME_RE = re.compile(
    r"\b\d+(?:[.,]\d+)?\s*(?:-\s*\d+\s*)?(?:minutes?|hours?|h|days?|working days?|"
    r"business days?|weeks?|months?|years?)\b|\b\d{1,2}:\d{2}\b|\b(?:monday|tuesday|wednesday|"
    r"thursday|friday|saturday|sunday|weekdays?|weekends?|daily|weekly|monthly|yearly|"
    r"annually|quarterly|january|february|march|april|may|june|july|august|september|"
    r"october|november|december|spring|summer|autumn|winter|tomorrow|today|immediately|"
    r"before|after|within)\b|\b(?:each|every|per|a)\s+(?:day|week|month|quarter|year)\b|"
    r"\b(?:day|week)\s+\d+\b",
    re.IGNORECASE,
)
_AMOUNT_RE = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twice|once|"
    r"half|double)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Piece:
    """A unit of one source, with the words it is scored by."""

    rank: int  # the source's place in the search results, from 0
    source: Source
    unit: Unit
    terms: frozenset[str]
    pairs: frozenset[tuple[str, str]]
    context: frozenset[str]

    @property
    def key(self) -> tuple[int, int]:
        return (self.rank, self.unit.position)


def pieces(sources: Sequence[Source]) -> list[Piece]:
    """Every unit of every source, sources in search order."""
    found = []
    for rank, source in enumerate(sources):
        page = " ".join([source.title, *source.hit.heading_path])
        read = units(source.text)
        for unit in read:
            own = words(unit.text)
            lead = read[unit.lead_in].text if unit.lead_in is not None else ""
            context = frozenset(words(f"{page} {unit.heading} {lead}"))
            adjacent = pairs(matching(unit.text))
            found.append(Piece(rank, source, unit, frozenset(own), adjacent, context))
    return found


class Scorer:
    """Scores pieces for one question; the IDF is over the pieces it is given."""

    def __init__(self, question: str, candidates: Sequence[Piece]) -> None:
        self.cue_re: re.Pattern[str] | None = None
        if _TIME_QUESTION_RE.search(question):
            self.cue_re = _TIME_RE
        elif _AMOUNT_QUESTION_RE.search(question) or _LIMIT_RE.search(question):
            self.cue_re = _AMOUNT_RE
        content = _TIME_QUESTION_RE.sub(" ", _AMOUNT_QUESTION_RE.sub(" ", question))
        self.wanted = set(words(content))
        self.pairs = pairs(matching(content))
        df: Counter[str] = Counter()
        for p in candidates:
            df.update(p.terms & self.wanted)
        n = len(candidates)
        self.idf = {t: math.log(1.0 + (n + 1) / (df[t] + 0.5)) for t in self.wanted}
        self.cue = CUE_WEIGHT * max((self.idf[t] for t in self.wanted if df[t]), default=0.0)

    def coverage(self, p: Piece) -> float:
        """The share of the question's word weight (IDF, so a word no candidate holds weighs
        most) that the piece holds in its text, title, headings or lead-in: 0 to 1."""
        total = sum(self.idf[t] for t in sorted(self.wanted))
        if total == 0.0:
            return 0.0
        return sum(self.idf[t] for t in sorted(self.wanted & (p.terms | p.context))) / total

    def score(self, p: Piece) -> float:
        # Sums in sorted order: a float sum in set order could differ between processes.
        found = sum(self.idf[t] for t in sorted(self.wanted & p.terms))
        if found == 0.0:
            return 0.0  # a number, a heading or a page title alone does not make an answer
        adjacent = sorted(self.pairs & p.pairs)
        found += PAIR_WEIGHT * sum(self.idf[a] + self.idf[b] for a, b in adjacent)
        only_context = sorted((self.wanted & p.context) - p.terms)
        found += CONTEXT_WEIGHT * sum(self.idf[t] for t in only_context)
        if self.cue_re is not None:
            if self.cue_re.search(p.unit.text):
                found += self.cue
            else:
                found *= CUE_MISSING
        damped = found / (1.0 + math.log(1.0 + p.unit.words / 25.0))
        return damped / (1.0 + RANK_DECAY * p.rank)
