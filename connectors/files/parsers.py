"""Bytes of one file -> title, heading-structured sections and (Markdown only) an ACL clause.

One function per file type behind :func:`parse_document`. Every failure surfaces as
:class:`ParseError` (or :class:`~connectors.files.rules.RuleError` for bad front matter) so a
broken file becomes one ``Failed`` item instead of ending the scan.

PDF pages become one section each, with heading path ``("Page N",)``: PDFs carry no reliable
heading structure, and a page number is what lets a reader find a cited passage again.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from pathlib import PurePosixPath

import docx
from bs4 import BeautifulSoup
from bs4.element import NavigableString, PreformattedString, Tag
from docx.document import Document as DocxDocument
from docx.enum.style import WD_STYLE_TYPE
from docx.table import Table
from docx.text.paragraph import Paragraph
from pypdf import PasswordType, PdfReader

from core.models import Section

from .markdown import parse_markdown
from .ooxml_limits import DOCX_LIMITS, check_package
from .parsed import Outline, Parsed, ParseError, decode_text, describe, tidy
from .rules import RuleError

__all__ = ["SUPPORTED_SUFFIXES", "ParseError", "Parsed", "parse_document"]


def parse_document(relpath: str, data: bytes) -> Parsed:
    """Parse one file by its extension. ``relpath`` names the file in error messages.

    Raises ParseError for unreadable content and RuleError for invalid Markdown front matter.
    """
    suffix = PurePosixPath(relpath).suffix.lower()
    parser = _PARSERS.get(suffix)
    if parser is None:
        raise ParseError(f"unsupported file type {suffix or '(none)'!r}")
    try:
        return parser(relpath, data)
    except (ParseError, RuleError):
        raise
    except Exception as exc:  # third-party parsers raise anything; never crash a scan
        raise ParseError(f"could not parse {suffix} file: {describe(exc)}") from exc



# --- Plain text -----------------------------------------------------------------------------


def _parse_text(relpath: str, data: bytes) -> Parsed:
    text = tidy(decode_text(data))
    return Parsed(None, (Section((), text),) if text.strip() else ())


# --- HTML -----------------------------------------------------------------------------------

_HTML_DROP = frozenset(
    {"script", "style", "nav", "noscript", "template", "head", "title", "svg", "canvas", "iframe"}
)
_HTML_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_HTML_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "br", "caption", "dd", "details",
        "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "header",
        "hr", "html", "li", "main", "ol", "p", "section", "summary", "table", "tbody", "tfoot",
        "thead", "tr", "ul",
    }
)  # fmt: skip


def _parse_html(relpath: str, data: bytes) -> Parsed:
    soup = BeautifulSoup(decode_text(data), "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    if not title:
        h1 = soup.find("h1")
        title = h1.get_text(" ", strip=True) if h1 else ""
    outline = Outline("\n\n")
    parts: list[str] = []

    def end_paragraph() -> None:
        text = re.sub(r" {2,}", " ", "".join(parts)).strip()
        parts.clear()
        if text and text != "-":
            outline.add(text)

    # An explicit stack instead of recursion: deeply nested HTML must not hit the recursion limit.
    stack: list[tuple[object, bool]] = [(soup, False)]
    while stack:
        node, leaving = stack.pop()
        if isinstance(node, Tag):
            name = node.name.lower()
            if leaving:
                if name in _HTML_BLOCKS:
                    end_paragraph()
                continue
            if name in _HTML_DROP:
                continue
            if name in _HTML_HEADINGS:
                end_paragraph()
                words = node.get_text(" ", strip=True)
                if words:
                    outline.heading(_HTML_HEADINGS[name], re.sub(r"\s+", " ", words))
                continue
            if name == "pre":
                end_paragraph()
                outline.add(node.get_text())
                continue
            if name in _HTML_BLOCKS:
                end_paragraph()
            if name == "li":
                parts.append("- ")
            elif name in ("td", "th") and "".join(parts).strip():
                parts.append(" | ")
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(node.contents))
        elif isinstance(node, NavigableString) and not isinstance(node, PreformattedString):
            # PreformattedString covers comments, doctypes and CDATA: markup, not content.
            parts.append(re.sub(r"\s+", " ", str(node)))
    end_paragraph()
    return Parsed(re.sub(r"\s+", " ", title).strip() or None, outline.sections())


# --- PDF ------------------------------------------------------------------------------------


def _parse_pdf(relpath: str, data: bytes) -> Parsed:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise ParseError(
                "not a readable PDF: it is encrypted with a password; save an unprotected copy"
            )
        pages = [tidy(page.extract_text() or "") for page in reader.pages]
    except ParseError:
        raise
    except Exception as exc:  # pypdf raises many unrelated types on corrupt input
        raise ParseError(f"not a readable PDF: {describe(exc)}") from exc
    sections = tuple(
        Section((f"Page {number}",), text) for number, text in enumerate(pages, 1) if text.strip()
    )
    if not sections:
        raise ParseError("no extractable text (scanned image PDF?)")
    return Parsed(_pdf_title(reader), sections)


def _pdf_title(reader: PdfReader) -> str | None:
    try:
        metadata = reader.metadata
        title = metadata.title if metadata is not None else None
    except Exception:  # noqa: BLE001 - a broken info dictionary only costs the title
        return None
    return (title.strip() or None) if isinstance(title, str) else None


# --- DOCX -----------------------------------------------------------------------------------


def _parse_docx(relpath: str, data: bytes) -> Parsed:
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


_PARSERS: dict[str, Callable[[str, bytes], Parsed]] = {
    ".md": parse_markdown,
    ".markdown": parse_markdown,
    ".txt": _parse_text,
    ".html": _parse_html,
    ".htm": _parse_html,
    ".pdf": _parse_pdf,
    ".docx": _parse_docx,
}

SUPPORTED_SUFFIXES = frozenset(_PARSERS)
