"""An answer without an LLM: passages of the permitted sources that answer the question, quoted
with their source numbers.

Used for air-gapped installs and whenever the configured LLM fails. Deterministic: the same
question and sources always give the same text, in every process. The method, in four steps;
nothing in it knows any particular question or page:

1. Read (:mod:`.sentences`): each source becomes pieces, in page order: sentences of a
   paragraph, list items, table rows (cells named by their column). Headings and lines of
   links are never pieces. Any text works (lists, tables, code, no punctuation at all).
2. Score (:mod:`.scoring`): the question's content words in the piece, weighted by IDF (rare
   words such as "VPN" count more than "company"), more for two of them side by side ("api
   key"), a little for those in the piece's title, headings or lead-in; a question asking for
   a time or an amount ("when", "which days", "how many") prefers pieces that hold one. Long
   pieces are damped, and the score is weighted by the source's rank in the search (1, 0.67,
   0.5, ...): the retriever judged the whole passage by meaning, and its first source most
   often holds the answer. A piece with none of the question's words scores nothing.
3. Choose: the best piece, then the next best while they score at least ``RELATIVE_CUTOFF`` of
   the best, within the bound of an answer: at most ``MAX_WORDS`` quoted words (citation and
   list markers aside) in at most ``MAX_QUOTES`` quotes. A piece comes with what it needs to be
   read: a list item or table row with its lead-in (the sentence ending in ":" before the
   list), a lead-in with its list, a step of a numbered procedure with the other steps (at most
   ``MAX_STEPS``, in order, starting as early as the bound allows). The best sentence comes with
   the rest of its paragraph when the paragraph has at most ``PASSAGE_WORDS`` words: a
   sentence often leans on the one before it ("If it was stolen, also ...").
4. Quote: the pieces of one list or table are one quote, and so are adjacent sentences of one
   paragraph; each quote ends with one citation [n] (its source's number). Quotes are in page
   order within a document (chunks of one document by their place in it), and documents in the
   order of their best piece.

It declines (no quote; the caller gives the honest "couldn't find" reply, with the closest
pages) when the best piece holds less than ``MIN_COVERAGE`` of the question's word weight (step
2's IDF over the candidates, so a word no source holds, "dog" in "can I bring my dog to the
office?", weighs most), or none of its words at all: a quote of the nearest passage would look
like an answer and is not one. The floor was chosen on the handbook question set
(docs/PERFORMANCE.md, "Extractive answers"): it declines on a quarter of the unanswerable
questions the relevance gate let through, and keeps all but two of the answering quotes.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator, Sequence

from retrieval.answer.base import NO_SOURCES_ANSWER, AnswerProvider, Source
from retrieval.answer.citations import MARKER_RE
from retrieval.answer.scoring import Piece, Scorer, pieces
from retrieval.answer.sentences import MAX_SENTENCE_WORDS, MIN_WORDS, Unit
from retrieval.answer.words import STOPWORDS, terms

__all__ = [
    "MAX_QUOTES",
    "MAX_STEPS",
    "MAX_WORDS",
    "MIN_COVERAGE",
    "STOPWORDS",
    "ExtractiveProvider",
    "answer_quotes",
    "compose",
    "terms",
]

MAX_WORDS = 80  # the bound of an answer: quoted words, markers aside
MAX_QUOTES = 3
MAX_STEPS = 8
PASSAGE_WORDS = 60
RELATIVE_CUTOFF = 0.5
MIN_COVERAGE = 0.2
assert MAX_SENTENCE_WORDS <= MAX_WORDS  # the best piece always fits

Key = tuple[int, int]


class _Choice:
    """The pieces an answer quotes, each with what it needs to be read, within the bound."""

    def __init__(self, candidates: Sequence[Piece]) -> None:
        self._by_key = {p.key: p for p in candidates}
        self._followers: dict[Key, list[Piece]] = {}  # lead-in -> its list or table
        self._blocks: dict[Key, list[Piece]] = {}  # (rank, block) -> its pieces
        for p in candidates:
            if p.unit.lead_in is not None:
                self._followers.setdefault((p.rank, p.unit.lead_in), []).append(p)
            self._blocks.setdefault((p.rank, p.unit.block), []).append(p)
        self.chosen: dict[Key, Piece] = {}
        self.order: list[Key] = []  # in the order they were chosen
        self.words = 0

    def selectable(self, p: Piece) -> bool:
        # A short lead-in ("A change request:") is quoted only with its list.
        return p.unit.words >= MIN_WORDS or p.key in self._followers

    def group(self, p: Piece) -> list[Piece]:
        """``p`` with what it needs: its lead-in, the rest of its procedure, or its list."""
        lead = []
        if p.unit.lead_in is not None:
            lead_in = self._by_key[(p.rank, p.unit.lead_in)]
            if lead_in.unit.words + p.unit.words <= MAX_WORDS:
                lead = [lead_in]
        budget = MAX_WORDS - sum(q.unit.words for q in lead)
        if p.unit.kind == "step":
            return lead + _window(p, self._blocks[(p.rank, p.unit.block)], budget)
        if p.key in self._followers:
            followers = self._followers[p.key]
            return [p, *_window(followers[0], followers, budget - p.unit.words)]
        return [*lead, p]

    def paragraph(self, p: Piece) -> list[Piece]:
        """The whole paragraph of a sentence, when it is short enough to read at once."""
        if p.unit.kind != "sentence":
            return [p]
        block = [q for q in self._blocks[(p.rank, p.unit.block)] if q.unit.kind == "sentence"]
        return block if sum(q.unit.words for q in block) <= PASSAGE_WORDS else [p]

    def add(self, group: list[Piece]) -> bool:
        """Takes the group if it fits the bound."""
        new = [q for q in group if q.key not in self.chosen]
        cost = sum(q.unit.words for q in new)
        if not new or self.words + cost > MAX_WORDS:
            return False
        trial = {**self.chosen, **{q.key: q for q in new}}
        if self.chosen and len(_quotes(trial, self.order + [q.key for q in new])) > MAX_QUOTES:
            return False
        self.chosen = trial
        self.order += [q.key for q in new]
        self.words += cost
        return True


def _window(p: Piece, run: list[Piece], budget: int) -> list[Piece]:
    """At most MAX_STEPS pieces of ``run`` and ``budget`` words, holding ``p`` and starting as
    early as they can: a procedure is read from its first step."""
    same = [q for q in run if q.unit.kind == p.unit.kind]
    at = same.index(p)
    start = max(0, at - MAX_STEPS + 1)
    window = same[start : start + MAX_STEPS]
    while len(window) > 1 and sum(q.unit.words for q in window) > budget:
        window.pop(-1 if window[-1] is not p else 0)
    return window


def _chunk_order(source: Source) -> tuple[int, int]:
    """Where the source's chunk sits in its document (chunk ids are ``<document id>:<n>``);
    sources of unknown place keep their search order, after the known ones."""
    hit = source.hit
    tail = hit.chunk_id.removeprefix(f"{hit.document_id}:")
    return (int(tail), source.number) if tail.isdigit() else (1 << 30, source.number)


def _quotes(chosen: dict[Key, Piece], order: list[Key]) -> list[list[Piece]]:
    """The chosen pieces as quotes: the pieces of one list or table (its lead-in first) are one
    quote, and so are adjacent sentences of one paragraph. Documents come in the order of their
    first chosen piece; chunks of a document, and pieces of a chunk, in page order."""
    first: dict[str, int] = {}
    for i, key in enumerate(order):
        first.setdefault(chosen[key].source.hit.document_id, i)
    ordered = sorted(
        chosen.values(),
        key=lambda p: (first[p.source.hit.document_id], _chunk_order(p.source), p.unit.position),
    )
    runs: list[list[Piece]] = []
    for p in ordered:
        last = runs[-1][-1] if runs else None
        if last is not None and last.rank == p.rank and _joins(last.unit, p.unit):
            runs[-1].append(p)
        else:
            runs.append([p])
    return runs


def _joins(before: Unit, after: Unit) -> bool:
    if after.lead_in is not None and after.lead_in == before.position:
        return True  # a lead-in and the first chosen piece of its list
    if after.block != before.block:
        return False
    return after.kind != "sentence" or after.position == before.position + 1


def _neutral(text: str) -> str:
    # A document's own "[3]" (a footnote) must not read as a citation of source 3.
    return MARKER_RE.sub(lambda m: f"({m.group(0)[1:-1].strip()})", text).rstrip()


def _with_marker(text: str, number: int) -> str:
    text = _neutral(text)
    if text and text[-1] in ".!?":
        return f"{text[:-1]} [{number}]{text[-1]}"
    return f"{text} [{number}]"


def _render(run: list[Piece]) -> str:
    """One quote: the sentences of a paragraph on one line, each item or row on its own line
    (with its list's marker), and one citation at the end."""
    lines: list[str] = []
    for i, p in enumerate(run):
        last = i == len(run) - 1
        text = _with_marker(p.unit.text, p.source.number) if last else _neutral(p.unit.text)
        if p.unit.kind == "sentence" and i and run[i - 1].unit.kind == "sentence":
            lines[-1] += " " + text
        else:
            lines.append(p.unit.marker + text)
    return "\n".join(lines)


def answer_quotes(question: str, sources: Sequence[Source]) -> list[tuple[str, bool]]:
    """The answer's quotes, each ending with its citation, and whether it is prose (sentences
    of a paragraph, not list items or rows)."""
    candidates = pieces(sources)
    if not candidates:
        return []
    scorer = Scorer(question, candidates)
    choice = _Choice(candidates)
    ranked = sorted(
        ((scorer.score(p), p) for p in candidates if choice.selectable(p)),
        key=lambda sp: (-sp[0], sp[1].rank, sp[1].unit.position),
    )
    if not ranked or ranked[0][0] <= 0.0 or scorer.coverage(ranked[0][1]) < MIN_COVERAGE:
        return []  # nothing here answers it: decline rather than quote the nearest passage
    best, anchor = ranked[0]
    if not choice.add(choice.group(anchor)):
        choice.add([anchor])  # a piece alone always fits (MAX_SENTENCE_WORDS <= MAX_WORDS)
    choice.add(choice.paragraph(anchor))
    for value, p in ranked[1:]:
        if value < RELATIVE_CUTOFF * best:
            break
        choice.add(choice.group(p))
    return [
        (_render(run), all(p.unit.kind == "sentence" and p.unit.ends_sentence for p in run))
        for run in _quotes(choice.chosen, choice.order)
    ]


def _joined(quotes: list[tuple[str, bool]]) -> Iterator[str]:
    # Quotes of prose read as one paragraph; a quote of list items or rows stands apart.
    prose = all(is_prose for _, is_prose in quotes)
    for i, (quote, _) in enumerate(quotes):
        yield quote if i == 0 else (" " if prose else "\n\n") + quote


def compose(question: str, sources: Sequence[Source]) -> str:
    """The extractive answer as one text, citing sources as [n] (their own numbers)."""
    return "".join(_joined(answer_quotes(question, sources)))


class ExtractiveProvider(AnswerProvider):
    name = "extractive"

    async def stream(self, question: str, sources: Sequence[Source]) -> AsyncGenerator[str, None]:
        # One delta per quote, so the client's streaming path is the same as an LLM's. No quote:
        # the honest reply, which the answerer reads as a decline (it cites nothing).
        quotes = answer_quotes(question, sources)
        if not quotes:
            yield NO_SOURCES_ANSWER
        for piece in _joined(quotes):
            yield piece
