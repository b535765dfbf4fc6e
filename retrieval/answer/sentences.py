"""A source's text as the extractive answer reads it: the pieces it may quote, in page order.

A piece (:class:`Unit`) is a sentence of a paragraph, a list item or a table row. What is not a
statement is never a piece: headings (Markdown ``#`` lines, and the short unpunctuated line
the chunker writes above a merged sub-section), lines that are mostly links (URLs, navigation
bars such as ``Home | Policies | Travel``), code and table rules. Each piece knows its block
(one paragraph, list or table; adjacent pieces of one block read as one quote), the nearest
heading above it, the sentence that introduces its list (a sentence ending in ``:`` right
before the list: its lead-in), and whether it is a step of a numbered procedure.

Any text works: lines of a paragraph are joined before it is cut into sentences, and a run of
words with no sentence breaks is cut into windows of ``MAX_SENTENCE_WORDS``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

MAX_SENTENCE_WORDS = 60  # longer runs (no punctuation) are cut into windows of this size
MIN_WORDS = 4  # shorter sentences are labels and stray fragments, not statements
MAX_HEADING_WORDS = 10

_SENTENCE_END_RE = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+(?=[\"'(\[]?[A-Z0-9])")
_LIST_MARK_RE = re.compile(r"^(\s*)([-*+•]|\d{1,3}[.)])\s+")
_ATX_HEADING_RE = re.compile(r"^\s*#{1,6}(?:\s|$)")
_RULE_RE = re.compile(r"^\s*(?:={3,}|-{3,}|\*{3,}|_{3,})\s*$")
_TABLE_RULE_RE = re.compile(r"^[\s|:+-]*-[\s|:+-]*$")
_FENCE_RE = re.compile(r"^\s*(?:```|~~~)")
_URL_RE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|www\.)\S+$", re.IGNORECASE)
_NAV_SEPARATOR_RE = re.compile(r"\s+(?:\||·|•|»|›|>)\s+")
_FINAL_PUNCTUATION = ".!?:;,"


@dataclass(frozen=True)
class Unit:
    """One quotable piece of a source."""

    position: int  # page order within the source, from 0
    text: str  # as quoted: list marker removed, table cells named by their column
    block: int  # the paragraph, list or table it belongs to
    kind: str  # "sentence", "item" (of a bulleted list), "step" (of a numbered list), "row"
    marker: str = ""  # how its list writes it: "- " or "3. "
    heading: str = ""  # the nearest heading above it inside the source text
    lead_in: int | None = None  # position of the sentence that introduces its list
    words: int = field(default=0, compare=False)

    @property
    def ends_sentence(self) -> bool:
        return bool(self.text) and self.text[-1] in ".!?"


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def is_link_line(line: str) -> bool:
    """Mostly links: at least half its words are URLs, or three or more labels separated like
    a navigation bar (``Home | Policies | Travel``, ``Home > HR > Leave``)."""
    words = line.split()
    if not words:
        return False
    if 2 * sum(1 for w in words if _URL_RE.match(w.strip("<>()[],;"))) >= len(words):
        return True
    labels = _NAV_SEPARATOR_RE.split(line.strip())
    return len(labels) >= 3 and all(0 < len(label.split()) <= 4 for label in labels) and not any(
        label.rstrip()[-1:] in ".!?" for label in labels
    )


def _is_table_row(line: str, block: list[str]) -> bool:
    # Markdown tables reach the index as "a | b" rows (the parser drops the outer pipes);
    # other sources keep them ("| a | b |"). One lone "a | b" line is not a table.
    if line.lstrip().startswith("|"):
        return True
    return " | " in line and sum(1 for other in block if " | " in other) >= 2


def _blocks(text: str) -> Iterator[list[str]]:
    """Runs of non-blank lines, code fences and their content left out."""
    block: list[str] = []
    fenced = False
    for line in text.splitlines():
        if _FENCE_RE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        if line.strip():
            block.append(line)
        elif block:
            yield block
            block = []
    if block:
        yield block


def _sentences(text: str) -> Iterator[str]:
    for sentence in _SENTENCE_END_RE.split(" ".join(text.split())):
        words = sentence.split()
        for start in range(0, len(words), MAX_SENTENCE_WORDS):
            yield " ".join(words[start : start + MAX_SENTENCE_WORDS])


class _Reader:
    def __init__(self) -> None:
        self.units: list[Unit] = []
        self.block = 0
        self.heading = ""
        self.lead_in: int | None = None  # a sentence ending in ":" that a list may follow

    def add(self, text: str, kind: str, marker: str = "", lead_in: int | None = None) -> None:
        words = len(text.split())
        # A short sentence is a label, except a lead-in ("A change request:") that its list needs.
        if (words < MIN_WORDS and not text.endswith(":")) or is_link_line(text):
            return
        self.units.append(
            Unit(len(self.units), text, self.block, kind, marker, self.heading, lead_in, words)
        )

    def new_block(self) -> None:
        self.block += 1

    def prose(self, lines: list[str]) -> None:
        if not lines:
            return
        before = len(self.units)
        for sentence in _sentences(" ".join(lines)):
            self.add(sentence, "sentence")
        last = self.units[-1] if len(self.units) > before else None
        self.lead_in = last.position if last and last.text.endswith(":") else None
        self.new_block()

    def item(self, marker: str, lines: list[str], lead_in: int | None) -> None:
        ordered = marker[:1].isdigit()
        kind, shown = ("step", f"{marker} ") if ordered else ("item", "- ")
        text = " ".join(" ".join(lines).split())
        if len(text.split()) <= MAX_SENTENCE_WORDS:
            self.add(text, kind, shown, lead_in)
        else:
            for sentence in _sentences(text):
                self.add(sentence, kind, shown, lead_in)

    def table(self, rows: list[str], lead_in: int | None) -> None:
        header = _cells(rows[0])
        for row in rows[1:]:
            cells = _cells(row)
            # A row alone ("L5 | 90k") says little: name each cell by its column.
            text = "; ".join(
                f"{name}: {cell}" if name else cell
                for name, cell in zip(header + [""] * len(cells), cells, strict=False)
                if cell
            )
            self.add(text, "row", "", lead_in)
        self.new_block()


def units(text: str) -> list[Unit]:
    """The quotable pieces of one source text, in page order."""
    reader = _Reader()
    blocks = list(_blocks(text))
    for b, block in enumerate(blocks):
        after = blocks[b + 1][0] if b + 1 < len(blocks) else None
        _read_block(reader, block, after)
    return reader.units


def _is_heading(block: list[str], i: int, after: str | None) -> bool:
    """The first line of a block, short and unpunctuated, followed by a line that starts anew
    (not a lower-case continuation; for a list-item line, not another item or its continuation):
    how the chunker writes a merged sub-heading, and how plain text writes a title."""
    line = block[i]
    if i > 0 and not _ATX_HEADING_RE.match(block[i - 1]):
        return False
    words = _LIST_MARK_RE.sub("", line).strip()
    if not words or words[-1] in _FINAL_PUNCTUATION or len(words.split()) > MAX_HEADING_WORDS:
        return False
    if i + 1 < len(block):
        following = block[i + 1]
        continues = _LIST_MARK_RE.match(following) or following[:1].isspace()
        if _LIST_MARK_RE.match(line) and continues:
            return False
    elif after is None or _LIST_MARK_RE.match(line):
        return False
    else:
        following = after
    return not _LIST_MARK_RE.sub("", following).lstrip()[:1].islower()


def _read_block(reader: _Reader, block: list[str], after: str | None) -> None:
    prose: list[str] = []
    item: tuple[str, list[str]] | None = None  # its marker and lines
    rows: list[str] = []
    list_lead_in: int | None = None
    in_list = False

    def flush() -> None:
        """Ends the paragraph, item or table being read."""
        nonlocal item, prose
        if item is not None:
            reader.item(item[0], item[1], list_lead_in)
            item = None
        if rows:
            reader.table(rows, reader.lead_in)
            rows.clear()
            reader.lead_in = None
        reader.prose(prose)
        prose = []

    def end_list() -> None:
        nonlocal in_list
        if in_list:
            reader.new_block()
            reader.lead_in = None
            in_list = False

    for i, line in enumerate(block):
        if _RULE_RE.match(line) or _TABLE_RULE_RE.match(line):
            continue
        if _is_table_row(line, block):
            if not rows:
                flush()
                end_list()
            rows.append(line)
            continue
        if _ATX_HEADING_RE.match(line) or _is_heading(block, i, after):
            flush()
            end_list()
            reader.heading = _LIST_MARK_RE.sub("", line.strip().lstrip("#")).strip()
            reader.lead_in = None
            continue
        if is_link_line(line):  # not quoted, and nothing joins across it
            flush()
            end_list()
            reader.new_block()
            continue
        mark = _LIST_MARK_RE.match(line)
        if mark:
            flush()
            if not in_list:
                list_lead_in = reader.lead_in
                in_list = True
            item = (mark.group(2), [line[mark.end() :]])
            continue
        if item is not None and (line[:1].isspace() or line.strip()[:1].islower()):
            item[1].append(line)  # the item goes on
            continue
        if item is not None or rows:
            flush()
        end_list()
        prose.append(line)
    flush()
    end_list()
