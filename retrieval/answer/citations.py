"""The citation check: what a model says about its sources is verified, not trusted.

Markers ``[3]``, ``[1, 2]``, ``[1; 2]``, ``[1][4]``, ``[1-3]`` and ``[Source 2]`` are
recognised. A number
that is not one of the provided sources is removed (and recorded); the sources that are cited
are renumbered 1..k in order of first citation; two sources that are the same document and
heading share one citation, so a reader never sees the same page twice. Sources nobody cited
are not shown.

:class:`CitationChecker` works on a stream: it rewrites text as it arrives, holding back only a
tail that could still turn out to be (part of) a marker, so what the user sees while the answer
streams is already the checked text, and the final text is exactly the deltas joined.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from retrieval.answer.base import Citation, FinalAnswer, Source

_NUMBER = r"(?:sources?\s*)?\d{1,3}(?:\s*[-–]\s*\d{1,3})?"  # "3", "Source 3", "1-3"
_MARKER = rf"\[\s*{_NUMBER}(?:\s*[,;]\s*{_NUMBER})*\s*\]"
MARKER_RE = re.compile(_MARKER, re.IGNORECASE)
# A run of adjacent markers with the whitespace before it: dropped whole when nothing in it
# is valid, so "text [9]." becomes "text." rather than "text .".
_GROUP_RE = re.compile(rf"\s*{_MARKER}(?:\s*{_MARKER})*", re.IGNORECASE)
_NUMBER_RE = re.compile(r"(\d{1,3})(?:\s*[-–]\s*(\d{1,3}))?")
MAX_RANGE = 10  # "[1-3]" is three citations; "[1-500]" is not five hundred
# What may still grow into a marker group when more text arrives: whitespace, complete
# markers, and at most one unfinished "[..." at the very end.
_OPEN_TAIL_RE = re.compile(
    rf"(?:\s*{_MARKER})*(?:\s*\[[\sA-Za-z0-9,;]{{0,40}})?\s*\Z", re.IGNORECASE
)
_TAIL_WINDOW = 400


def _dedup_key(source: Source) -> tuple[str, tuple[str, ...]]:
    return (source.hit.document_id, source.hit.heading_path)


class CitationChecker:
    """Feed the model's text; read back checked text. One instance per answer."""

    def __init__(self, sources: Sequence[Source]) -> None:
        self._by_number = {s.number: s for s in sources}
        self._shown_by_key: dict[tuple[str, tuple[str, ...]], int] = {}
        self._citations: list[Citation] = []
        self._removed: list[int] = []
        self._pending = ""
        self._parts: list[str] = []
        self._started = False  # leading whitespace of the answer is dropped

    def feed(self, delta: str) -> str:
        """Checked text that is safe to show now (may be empty)."""
        self._pending += delta
        window_start = max(0, len(self._pending) - _TAIL_WINDOW)
        match = _OPEN_TAIL_RE.search(self._pending, window_start)
        cut = match.start() if match else len(self._pending)
        ready, self._pending = self._pending[:cut], self._pending[cut:]
        return self._emit(ready)

    def finish(self) -> str:
        """The rest of the text, once the model has finished."""
        ready, self._pending = self._pending, ""
        return self._emit(ready, last=True)

    @property
    def text(self) -> str:
        return "".join(self._parts)

    @property
    def citations(self) -> tuple[Citation, ...]:
        return tuple(self._citations)

    @property
    def removed(self) -> tuple[int, ...]:
        return tuple(self._removed)

    def final(self, *, provider: str, fell_back: bool = False) -> FinalAnswer:
        return FinalAnswer(
            text=self.text,
            citations=self.citations,
            provider=provider,
            fell_back=fell_back,
            removed_citations=self.removed,
        )

    def _emit(self, ready: str, *, last: bool = False) -> str:
        out = _GROUP_RE.sub(self._rewrite_group, ready)
        if not self._started:
            out = out.lstrip()
            self._started = bool(out)
        if last:
            out = out.rstrip()
        self._parts.append(out)
        return out

    def _rewrite_group(self, match: re.Match[str]) -> str:
        group = match.group(0)
        shown: list[int] = []
        for raw in _numbers(group):
            number = self._number_for(raw)
            if number is not None and number not in shown:
                shown.append(number)
        if not shown:
            return ""
        leading = group[: len(group) - len(group.lstrip())]
        return leading + "".join(f"[{n}]" for n in shown)

    def _number_for(self, raw: int) -> int | None:
        source = self._by_number.get(raw)
        if source is None:
            if raw not in self._removed:
                self._removed.append(raw)
            return None
        key = _dedup_key(source)
        if key not in self._shown_by_key:
            number = len(self._citations) + 1
            self._shown_by_key[key] = number
            self._citations.append(
                Citation(
                    number=number,
                    title=source.title,
                    url=source.url,
                    source_id=source.hit.source_id,
                    heading_path=source.hit.heading_path,
                    document_id=source.hit.document_id,
                )
            )
        return self._shown_by_key[key]


def _numbers(group: str) -> list[int]:
    found: list[int] = []
    for first, last in _NUMBER_RE.findall(group):
        start, end = int(first), int(last or first)
        if start <= end < start + MAX_RANGE:
            found.extend(range(start, end + 1))
        else:  # a backwards or huge range: keep its ends, which are checked like any number
            found.extend([start, end] if last else [start])
    return found


def check_citations(
    text: str, sources: Sequence[Source], *, provider: str, fell_back: bool = False
) -> FinalAnswer:
    """The whole check on a complete text."""
    checker = CitationChecker(sources)
    checker.feed(text)
    checker.finish()
    return checker.final(provider=provider, fell_back=fell_back)
