"""DOCX bytes -> title and heading-structured sections (paragraph styles make the headings).

The package is checked against :data:`~connectors.parsers.ooxml_limits.DOCX_LIMITS` before
python-docx sees it. The ``Title`` style heads everything under it; ``Heading 1``-``Heading 6``
open sections; tables become one line per row with cells joined by `` | ``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import docx
from docx.document import Document as DocxDocument
from docx.enum.style import WD_STYLE_TYPE
from docx.table import Table
from docx.text.paragraph import Paragraph

from .ooxml_limits import DOCX_LIMITS, check_package
from .parsed import Outline, Parsed, ParseError, describe


def parse_docx(relpath: str, data: bytes) -> Parsed:
    check_package(data, DOCX_LIMITS)  # python-docx inflates and parses every part at once
    try:
        document = docx.Document(io.BytesIO(data))
        title = (document.core_properties.title or "").strip() or None
        headings = _DocxHeadings(document)
        outline = Outline("\n\n")
        for block in document.iter_inner_content():
            if isinstance(block, Paragraph):
                text = block.text.strip()
                level = headings.level(block)
                if text and level is not None:
                    outline.heading(level, text)
                    if level == 0 and title is None:
                        title = text
                elif text:
                    outline.add(text)
            elif isinstance(block, Table):
                for row in _docx_rows(block):
                    outline.add(row)
        return Parsed(title, outline.sections())
    except Exception as exc:  # python-docx/lxml/zipfile raise many types on corrupt input
        raise ParseError(f"not a readable DOCX: {describe(exc)}") from exc


class _DocxHeadings:
    """Heading level by paragraph style, resolved once per document: python-docx's
    ``Paragraph.style`` scans every style of the document on each call (18 s for 20,000
    paragraphs), so this reads each paragraph's style id and looks it up instead."""

    def __init__(self, document: DocxDocument) -> None:
        default = document.styles.default(WD_STYLE_TYPE.PARAGRAPH)
        self._default = _docx_style_level(default.name if default is not None else None)
        self._levels: dict[str, int | None] = {}
        for style in document.styles:
            # As python-docx does: the first style with an id wins, and a style of another type
            # stands for the default paragraph style.
            if style.style_id not in self._levels:
                paragraph_style = style.type == WD_STYLE_TYPE.PARAGRAPH
                level = _docx_style_level(style.name) if paragraph_style else self._default
                self._levels[style.style_id] = level

    def level(self, paragraph: Paragraph) -> int | None:
        style_id = paragraph._p.style
        return self._levels.get(style_id, self._default) if style_id else self._default


def _docx_style_level(style_name: str | None) -> int | None:
    name = (style_name or "").strip().lower()
    if name == "title":
        return 0  # above Heading 1: the document's own title heads everything under it
    match = re.fullmatch(r"heading ([1-6])", name)
    return int(match.group(1)) if match else None


def _docx_rows(table: Table) -> Iterator[str]:
    """One line per row, cells joined by ' | '; nested tables follow their row."""
    for row in table.rows:
        cells: list[str] = []
        nested: list[Table] = []
        seen: list[object] = []
        for cell in row.cells:
            # A merged cell is returned once per grid column it spans; its XML element is shared.
            if any(cell._tc is tc for tc in seen):
                continue
            seen.append(cell._tc)
            cells.append(" ".join(p.text.strip() for p in cell.paragraphs if p.text.strip()))
            nested.extend(cell.tables)
        line = " | ".join(c for c in cells if c)
        if line:
            yield line
        for inner in nested:
            yield from _docx_rows(inner)
