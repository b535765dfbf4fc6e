"""An answer without an LLM: the sentences of the permitted sources that best match the
question, each followed by its source number.

Used for air-gapped installs and whenever the configured LLM fails. Deterministic: the same
question and sources always give the same text. It copes with any text (lists, tables, code,
no punctuation at all) because candidates are cut per line first, then per sentence, and a
line with no sentence breaks is cut into word windows.

Scoring: each question term found in a sentence adds its IDF over all candidate sentences
(rare words such as "VPN" count more than "company"), plus a little for question terms in the
source's title or heading path, and for a number when the question asks "how many", "how
long", "when"...; long sentences are damped. The source with the best sentence
comes first, its sentences in page order; ties go to the better-ranked source, then to the
earlier sentence.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import AsyncGenerator, Iterator, Sequence
from dataclasses import dataclass

from retrieval.answer.base import AnswerProvider, Source
from retrieval.answer.citations import MARKER_RE
from retrieval.answer.words import STOPWORDS, terms

__all__ = ["STOPWORDS", "ExtractiveProvider", "answer_sentences", "compose", "terms"]

MAX_SENTENCES = 3
MAX_PER_SOURCE = 2
MIN_WORDS = 4
MAX_SENTENCE_WORDS = 60  # longer runs (no punctuation) are cut into windows of this size
TITLE_WEIGHT = 0.3
QUANTITY_WEIGHT = 0.5
RELATIVE_CUTOFF = 0.5

_SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
_LIST_MARK_RE = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")
_HEADING_RE = re.compile(r"^\s*(?:#{1,6}\s|={3,}|-{3,}\s*$)")
_TABLE_RULE_RE = re.compile(r"^[\s|:+-]*$")
_FENCE_RE = re.compile(r"^\s*(?:```|~~~)")
# Questions that want a number or a date, and sentences that have one.
_QUANTITY_QUESTION_RE = re.compile(
    r"\bhow (?:many|much|long|often|old|soon|far)\b|\bwhen\b|\bwhat time\b|\bdeadline\b",
    re.IGNORECASE,
)
_QUANTITY_RE = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twice|once|"
    r"daily|weekly|monthly|yearly|annually|first|second|third|fourth|fifth)\b",
    re.IGNORECASE,
)

@dataclass(frozen=True)
class _Candidate:
    source: Source
    position: int
    text: str
    terms: frozenset[str]
    length: int


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _lines(text: str) -> Iterator[str]:
    header: list[str] = []  # the current table's column names
    for line in text.splitlines():
        if _FENCE_RE.match(line) or _HEADING_RE.match(line):
            continue
        if _TABLE_RULE_RE.match(line):
            continue
        if line.strip().startswith("|"):
            cells = _cells(line)
            if not header:
                header = cells
                continue
            # A row alone ("| L5 | 90k |") says little: name each cell by its column.
            line = "; ".join(
                f"{name}: {cell}" if name else cell
                for name, cell in zip(header + [""] * len(cells), cells, strict=False)
                if cell
            )
        else:
            header = []
            line = _LIST_MARK_RE.sub("", line)
        line = " ".join(line.split())
        if line:
            yield line


def _pieces(line: str) -> Iterator[str]:
    for sentence in _SENTENCE_END_RE.split(line):
        words = sentence.split()
        for start in range(0, len(words), MAX_SENTENCE_WORDS):
            yield " ".join(words[start : start + MAX_SENTENCE_WORDS])


def _candidates(sources: Sequence[Source]) -> list[_Candidate]:
    found = []
    for source in sources:
        position = 0
        for line in _lines(source.text):
            for piece in _pieces(line):
                words = piece.split()
                if len(words) < MIN_WORDS:  # headings, labels, stray fragments
                    continue
                found.append(
                    _Candidate(source, position, piece, frozenset(terms(piece)), len(words))
                )
                position += 1
    return found


def _with_marker(text: str, number: int) -> str:
    # A document's own "[3]" (a footnote) must not read as a citation of source 3.
    text = MARKER_RE.sub(lambda m: f"({m.group(0)[1:-1].strip()})", text.rstrip())
    if text and text[-1] in ".!?":
        return f"{text[:-1]} [{number}]{text[-1]}"
    return f"{text} [{number}]"


def compose(question: str, sources: Sequence[Source]) -> str:
    """The extractive answer as one text, citing sources as [n] (their own numbers)."""
    return "".join(_joined(answer_sentences(question, sources)))


def _joined(sentences: list[str]) -> Iterator[str]:
    # Prose reads as a paragraph; list items, table rows and code lines (no full stop) are
    # easier to read one per line.
    prose = all(re.search(r"[.!?]$", s) for s in sentences)
    for i, sentence in enumerate(sentences):
        yield sentence if i == 0 else (" " if prose else "\n") + sentence


def answer_sentences(question: str, sources: Sequence[Source]) -> list[str]:
    """The answer's sentences, each ending with its source marker."""
    wanted = set(terms(question))
    candidates = _candidates(sources)
    if not candidates:
        return []
    df: Counter[str] = Counter()
    for c in candidates:
        df.update(c.terms & wanted)
    n = len(candidates)
    idf = {t: math.log(1.0 + (n + 1) / (df[t] + 0.5)) for t in wanted}

    wants_quantity = bool(_QUANTITY_QUESTION_RE.search(question))
    # A number in a sentence counts like half of the best question word that occurs at all.
    quantity = QUANTITY_WEIGHT * max((idf[t] for t in wanted if df[t]), default=0.0)

    def evidence(c: _Candidate) -> float:
        matched = sum(idf[t] for t in wanted & c.terms)
        if matched == 0.0:
            return 0.0  # a number or a heading match alone does not make an answer
        if wants_quantity and _QUANTITY_RE.search(c.text):
            matched += quantity
        return matched

    def score(c: _Candidate) -> float:
        found = evidence(c)
        if found == 0.0:
            return 0.0
        label = set(terms(" ".join([c.source.title, *c.source.hit.heading_path])))
        found += TITLE_WEIGHT * sum(idf[t] for t in wanted & label)
        return found / (1.0 + math.log(1.0 + c.length / 25.0))

    ranked = sorted(
        ((score(c), c) for c in candidates),
        key=lambda sc: (-sc[0], sc[1].source.number, sc[1].position),
    )
    chosen: list[_Candidate] = []
    per_source: Counter[int] = Counter()
    # Noise cut on a sentence's own evidence (not its page's title): one with less than half
    # the evidence of the best is not part of the answer.
    floor = RELATIVE_CUTOFF * max(evidence(c) for c in candidates)
    for value, c in ranked:
        if value <= 0.0 or len(chosen) == MAX_SENTENCES:
            break
        if evidence(c) < floor:
            continue
        if per_source[c.source.number] == MAX_PER_SOURCE:
            continue
        chosen.append(c)
        per_source[c.source.number] += 1
    if not chosen:
        # Retrieval found these sources (perhaps by meaning, not by words): show the opening of
        # the best one, and say that it is only the closest match.
        first = candidates[0]
        return [
            "I found no direct answer; the closest passage is: "
            + _with_marker(first.text, first.source.number)
        ]
    # Sources in the order of their best sentence; within a source, page order (steps of a
    # procedure stay in sequence).
    lead = {c.source.number: i for i, c in reversed(list(enumerate(chosen)))}
    chosen.sort(key=lambda c: (lead[c.source.number], c.position))
    return [_with_marker(c.text, c.source.number) for c in chosen]


class ExtractiveProvider(AnswerProvider):
    name = "extractive"

    async def stream(self, question: str, sources: Sequence[Source]) -> AsyncGenerator[str, None]:
        # A few deltas, one per sentence, so the client's streaming path is the same as an LLM's.
        for piece in _joined(answer_sentences(question, sources)):
            yield piece
