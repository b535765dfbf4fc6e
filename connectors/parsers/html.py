"""HTML bytes -> title and heading-structured sections, without scripts, styles or navigation.

The title is the ``<title>``, else the first ``<h1>``; ``h1``-``h6`` open sections; block
elements end paragraphs, list items become ``- `` lines and table cells are joined by `` | ``.
The tree is walked with an explicit stack: deeply nested HTML must not hit the recursion limit.
:func:`parse_web_parts` reads a SharePoint modern page's text web parts the same way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bs4 import BeautifulSoup
from bs4.element import NavigableString, PreformattedString, Tag

from .parsed import Outline, Parsed, decode_text

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


def parse_html(relpath: str, data: bytes) -> Parsed:
    soup = BeautifulSoup(decode_text(data), "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    if not title:
        h1 = soup.find("h1")
        title = h1.get_text(" ", strip=True) if h1 else ""
    outline = Outline("\n\n")
    _walk(soup, outline)
    return Parsed(re.sub(r"\s+", " ", title).strip() or None, outline.sections())


def parse_web_parts(inner_htmls: Sequence[str], title: str | None = None) -> Parsed:
    """A SharePoint modern page's text web parts (their ``innerHtml``, in the page's order) as
    one document: a heading in one web part heads the text of the following ones until the
    next heading, as a reader sees the page. ``title`` is the page's own (Graph's sitePage
    ``title``); the web parts' markup never supplies it. Scripts, styles and other markup
    outside the text are dropped as for an HTML file.

    Graph: https://learn.microsoft.com/en-us/graph/api/resources/textwebpart (``innerHtml``)."""
    outline = Outline("\n\n")
    for html in inner_htmls:
        _walk(BeautifulSoup(html, "html.parser"), outline)
    return Parsed(re.sub(r"\s+", " ", title or "").strip() or None, outline.sections())


def _walk(soup: BeautifulSoup, outline: Outline) -> None:
    parts: list[str] = []

    def end_paragraph() -> None:
        text = re.sub(r" {2,}", " ", "".join(parts)).strip()
        parts.clear()
        if text and text != "-":
            outline.add(text)

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
