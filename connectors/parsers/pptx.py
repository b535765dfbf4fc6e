"""PPTX bytes -> one section per slide: the slide's title heads it, its text follows.

The package is checked against :data:`~connectors.parsers.ooxml_limits.PPTX_LIMITS` before
python-pptx sees it (python-pptx's lxml refuses XML nested deeper than libxml2's 256 levels).

- A slide's heading is its title placeholder's text, else "Slide N" (N counts every slide,
  hidden ones too, so the number matches the one PowerPoint shows).
- Shapes are read in the slide's shape-tree order, which is the order PowerPoint's screen
  readers use ("reading order" in the Selection Pane); group shapes are opened in place, with
  an explicit stack so that deeply nested groups cannot hit the recursion limit.
- Tables become one line per row, cells joined by `` | ``.
- The speaker notes follow the slide's text, after a "Notes:" line.
- Hidden slides (``show="0"``) are skipped: they are not part of what the deck presents, and
  often hold drafts or material cut from it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import pptx
from pptx.shapes.base import BaseShape
from pptx.shapes.group import GroupShape
from pptx.slide import Slide

from .ooxml_limits import PPTX_LIMITS, check_package
from .parsed import Outline, Parsed, ParseError, describe


def parse_pptx(relpath: str, data: bytes) -> Parsed:
    check_package(data, PPTX_LIMITS)  # python-pptx parses each slide's XML whole
    try:
        presentation = pptx.Presentation(io.BytesIO(data))
        title = (presentation.core_properties.title or "").strip() or None
        outline = Outline("\n\n")
        for number, slide in enumerate(presentation.slides, start=1):
            if _hidden(slide):
                continue
            heading_shape = slide.shapes.title
            heading = _one_line(heading_shape.text_frame.text) if heading_shape is not None else ""
            outline.heading(1, heading or f"Slide {number}")
            for text in _slide_texts(slide, heading_shape):
                outline.add(text)
            notes = _notes(slide)
            if notes:
                outline.add("Notes:\n" + notes)
        return Parsed(title, outline.sections())
    except Exception as exc:  # python-pptx/lxml/zipfile raise many types on corrupt input
        raise ParseError(f"not a readable PPTX: {describe(exc)}") from exc


def _hidden(slide: Slide) -> bool:
    return slide.element.get("show") in ("0", "false")


def _slide_texts(slide: Slide, heading_shape: BaseShape | None) -> Iterator[str]:
    heading_id = heading_shape.shape_id if heading_shape is not None else None
    stack: list[BaseShape] = list(reversed(list(slide.shapes)))
    while stack:
        shape = stack.pop()
        if isinstance(shape, GroupShape):
            stack.extend(reversed(list(shape.shapes)))
            continue
        if shape.shape_id == heading_id and heading_shape is not None:
            continue  # already the section's heading
        if getattr(shape, "has_table", False):
            yield from _table_rows(shape)
        elif shape.has_text_frame:
            text = _frame_text(shape.text_frame.text)  # type: ignore[attr-defined]
            if text:
                yield text


def _table_rows(shape: BaseShape) -> Iterator[str]:
    table = shape.table  # type: ignore[attr-defined]
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            if cell.is_spanned:
                continue  # the merge origin holds the text once
            text = _one_line(cell.text)
            if text:
                cells.append(text)
        if cells:
            yield " | ".join(cells)


def _notes(slide: Slide) -> str:
    if not slide.has_notes_slide:
        return ""
    frame = slide.notes_slide.notes_text_frame
    return _frame_text(frame.text) if frame is not None else ""


def _frame_text(text: str) -> str:
    # python-pptx writes a line break inside a paragraph as a vertical tab.
    lines = (line.strip() for line in text.replace("\v", "\n").split("\n"))
    return "\n".join(line for line in lines if line)


def _one_line(text: str) -> str:
    return " ".join(text.split())
