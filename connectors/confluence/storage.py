"""Confluence *storage format* (the XHTML Confluence keeps pages in) -> heading-structured text.

:func:`storage_to_sections` keeps what a person reading the page would read, and nothing else:

* Headings ``h1``-``h6`` open sections; the heading path is the chain of enclosing headings. The
  page title is not part of the path (the caller uses it as the document title), so a first
  ``h1`` that only repeats the title is dropped instead of nesting the whole page under it.
* Paragraphs become blank-line separated blocks, ``<br/>`` a line break, lists one line per
  item (``- `` / ``1. ``, two spaces per nesting level), task lists ``- [x]`` / ``- [ ]``, and
  tables one line per row with cells joined by `` | `` (header rows included: they name the
  columns a reader needs to understand the other rows).
* Code (the ``code`` and ``noformat`` macros and ``<pre>``) stays verbatim in a fenced block,
  with the ``language`` parameter when there is one: indentation and line breaks are meaning.
* Macros that wrap authored text (info, note, warning, tip, panel, expand, excerpt, section,
  column, details, ...) and page layouts keep their body, plus their ``title`` when it is
  human-written. ``status`` keeps its label.
* Links keep their visible text: the link body, else the target page or blog post title, else
  the attachment file name.

Dropped, because it is configuration or points at content we do not have: macro parameters
(including those of unknown macros, which keep only their bodies), macros that generate
content at view time (table of contents, child pages, Jira issues, attachments list, ...),
images (with their captions), emoticons and editor placeholders. A user mention is dropped
unless its author gave it link text: storage format only carries an account id, which means
nothing to a reader and must not end up in an index. Date pickers keep their date.

Parsing uses BeautifulSoup's ``html.parser`` rather than an XML parser: page bodies are XML
fragments without namespace declarations and full of HTML named entities (``&nbsp;``,
``&rsquo;``) that an XML parser rejects. Nothing here raises on malformed input; whatever the
parser could read is returned.
"""

from __future__ import annotations

import html
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning
from bs4.element import CData, NavigableString, PageElement, PreformattedString, Tag
from bs4.exceptions import ParserRejectedMarkup

from core.models import Section

__all__ = ["storage_to_sections"]

_HEADINGS = {f"h{n}": n for n in range(1, 7)}

# Elements that end the running paragraph before and after themselves.
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "center", "dd",
        "details", "div", "dl", "dt", "figcaption", "figure", "footer", "header", "hr", "html",
        "li", "main", "p", "section", "summary", "td", "th", "tr",
        "ac:layout", "ac:layout-section", "ac:layout-cell", "ac:rich-text-body",
        "ac:plain-text-body", "ac:task-body", "ac:adf-extension", "ac:adf-node",
        "ac:adf-content",
    }
)  # fmt: skip

# Elements whose whole subtree is dropped: configuration, pictures, editor furniture, and the
# fallback copy Confluence Cloud stores next to content it already stores as ac:adf-node.
_SKIP = frozenset(
    {
        "script", "style", "head", "title", "template", "noscript", "svg", "colgroup", "col",
        "ac:parameter", "ac:default-parameter", "ac:image", "ac:emoticon", "ac:placeholder",
        "ac:task-id", "ac:task-uuid", "ac:task-status", "ac:adf-attribute", "ac:adf-fallback",
        "ac:caption",
    }
)  # fmt: skip

# Macros rendered from data at view time (or anchors): there is no authored text to keep.
_NO_TEXT_MACROS = frozenset(
    {
        "anchor", "attachments", "blog-posts", "children", "contentbylabel", "contributors",
        "create-from-template", "gallery", "include", "excerpt-include", "jira", "jiraissues",
        "livesearch", "pagetree", "pagetreesearch", "popular-labels", "profile",
        "profile-picture", "recently-updated", "related-labels", "search", "space-details",
        "toc", "userlister", "view-file", "viewpdf",
    }
)  # fmt: skip

# Macros whose ``title`` parameter is a heading the author wrote for the box.
_TITLED_MACROS = frozenset({"info", "note", "warning", "tip", "panel", "expand", "code"})

_MACROS = ("ac:structured-macro", "ac:macro")
_LIST_LIKE = frozenset({"ul", "ol", "table", "pre", "ac:task-list"})

_CDATA = re.compile(r"<!\[CDATA\[(.*?)(?:\]\]>|\Z)", re.DOTALL)
# html.parser returns a tag it cannot read (mismatched quotes, say) as literal text; for a user
# link that text would include the account id.
_LEAKED_USER = re.compile(
    r"ri:(?:account-id|userkey|username)\s*=\s*(?:\"[^\"]*\"?|'[^']*'?|[^\s>]*)", re.IGNORECASE
)
_WHITESPACE = re.compile(r"\s+")
# Zero-width characters the Confluence editor leaves around inline nodes.
_INVISIBLE = str.maketrans("", "", "\u200b\u200c\u200d\u2060\ufeff")

# Beyond this nesting depth a subtree is read as flat text: a malformed body (thousands of
# unclosed tags) must not exhaust the interpreter's recursion limit.
_MAX_DEPTH = 60


def storage_to_sections(storage: str, title: str) -> tuple[Section, ...]:
    """Convert one page body in storage format to sections of plain text.

    ``title`` is the page title; it is only used to drop a leading ``h1`` that repeats it.
    Empty or whitespace-only bodies give ``()``. Never raises on malformed markup.
    """
    if not storage or not storage.strip():
        return ()
    walker = _Walker(list_indent=0, headings=True)
    walker.walk_children(_parse(storage), 0)
    return _assemble(walker.finish(), title)


# --- parsing --------------------------------------------------------------------------------


def _parse(storage: str) -> BeautifulSoup:
    text = storage.replace("\r\n", "\n").replace("\r", "\n")
    # CDATA becomes escaped text before parsing: what html.parser makes of CDATA differs between
    # Python releases (a CDATA node, or a bogus comment that ends at the first ">"), and code
    # bodies must survive untouched. An unterminated section runs to the end of the body.
    text = _CDATA.sub(lambda m: html.escape(m.group(1), quote=False), text)
    text = _drop_cut_off_tag(text)
    with warnings.catch_warnings():
        # A short body can look like a file name or URL, or start with an XML declaration.
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        try:
            return BeautifulSoup(text, "html.parser")
        except ParserRejectedMarkup:
            pass
        # html.parser gives up on some malformed "<!" declarations; read those as text.
        try:
            return BeautifulSoup(text.replace("<!", "&lt;!"), "html.parser")
        except ParserRejectedMarkup:
            # Last resort: the words without any markup (and so without any attribute values).
            return BeautifulSoup(html.escape(re.sub(r"<[^>]*>?", " ", text)), "html.parser")


def _drop_cut_off_tag(text: str) -> str:
    """A tag cut off by the end of the body would come back as text, attributes and all."""
    last = text.rfind("<")
    if last >= 0 and ">" not in text[last:] and re.match(r"<[A-Za-z/!?]", text[last:]):
        return text[:last]
    return text


def _attr(tag: Tag, name: str) -> str:
    value = tag.get(name)
    if value is None:
        return ""
    return value if isinstance(value, str) else " ".join(value)


def _one_line(text: str) -> str:
    return _WHITESPACE.sub(" ", text.translate(_INVISIBLE)).strip()


def _clean(text: str) -> str:
    """Collapse spaces on each line, keep line breaks, allow at most one blank line in a row."""
    out: list[str] = []
    for raw in text.translate(_INVISIBLE).split("\n"):
        line = _WHITESPACE.sub(" ", raw).strip()
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip("\n")


def _own(node: Tag, names: Iterable[str], stop: Iterable[str] = _MACROS) -> Iterator[Tag]:
    """Descendants named ``names``, not looking inside a match or inside a ``stop`` element.

    Finds a macro's own body and parameters but not those of macros nested in it, even when a
    malformed body (an unclosed parameter) has pushed them below where they belong.
    """
    wanted, stopping = frozenset(names), frozenset(stop)
    pending = [c for c in reversed(node.contents) if isinstance(c, Tag)]
    while pending:
        tag = pending.pop()
        if tag.name in wanted:
            yield tag
        elif tag.name not in stopping:
            pending.extend(c for c in reversed(tag.contents) if isinstance(c, Tag))


def _flat_text(node: Tag) -> str:
    """Text of a subtree without recursion, still leaving out the skipped elements."""
    parts: list[str] = []
    pending: list[PageElement] = list(reversed(node.contents))
    while pending:
        item = pending.pop()
        if isinstance(item, Tag):
            if item.name not in _SKIP:
                pending.extend(reversed(item.contents))
        elif _is_text(item):
            parts.append(str(item))
    return _LEAKED_USER.sub(" ", " ".join(parts))


def _is_text(node: PageElement) -> bool:
    # Comments, declarations and processing instructions are markup; CDATA is content.
    return isinstance(node, NavigableString) and (
        isinstance(node, CData) or not isinstance(node, PreformattedString)
    )


# --- walking the tree -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Heading:
    level: int
    text: str


@dataclass(frozen=True)
class _Block:
    text: str
    # "list" blocks carry their own indentation and "code" blocks are verbatim: a list item
    # that contains them must not re-indent or re-flow their lines.
    kind: Literal["text", "list", "code"] = "text"


class _Walker:
    """Turns a subtree into headings and text blocks, keeping a running paragraph."""

    def __init__(self, list_indent: int, headings: bool) -> None:
        self._list_indent = list_indent
        self._headings = headings
        self._items: list[_Heading | _Block] = []
        self._inline: list[str] = []

    def finish(self) -> list[_Heading | _Block]:
        self._end_paragraph()
        return self._items

    def walk_children(self, node: Tag, depth: int) -> None:
        for child in node.contents:
            self.walk(child, depth + 1)

    def walk(self, node: PageElement, depth: int) -> None:
        if isinstance(node, Tag):
            if depth > _MAX_DEPTH:
                self._text(_flat_text(node))
            else:
                self._tag(node, depth)
        elif _is_text(node):
            self._text(_LEAKED_USER.sub(" ", str(node)))

    def _text(self, text: str) -> None:
        self._inline.append(_WHITESPACE.sub(" ", text))

    def _end_paragraph(self) -> None:
        text = _clean("".join(self._inline))
        self._inline.clear()
        if text:
            self._items.append(_Block(text))

    def _add(self, block: _Block) -> None:
        self._end_paragraph()
        if block.text.strip():
            self._items.append(block)

    def _tag(self, tag: Tag, depth: int) -> None:
        name = tag.name
        if name in _SKIP:
            return
        if name in _HEADINGS:
            # An unclosed heading swallows the blocks after it; those are body text, not title.
            split = next(
                (i for i, c in enumerate(tag.contents) if isinstance(c, Tag) and _is_block(c)),
                len(tag.contents),
            )
            text = _one_line(" ".join(b.text for b in _render(tag.contents[:split], 0, depth)))
            self._end_paragraph()
            if text and self._headings:
                self._items.append(_Heading(_HEADINGS[name], text))
            elif text:
                self._items.append(_Block(text))
            for child in tag.contents[split:]:
                self.walk(child, depth + 1)
        elif name == "br":
            self._inline.append("\n")
        elif name in ("ul", "ol"):
            self._add(_Block("\n".join(_list_lines(tag, self._list_indent, depth)), "list"))
        elif name == "ac:task-list":
            self._add(_Block("\n".join(_task_lines(tag, self._list_indent, depth)), "list"))
        elif name == "table":
            self._add(_Block("\n".join(_table_lines(tag, depth))))
        elif name == "pre":
            # Not CDATA: markup html.parser could not read (an unclosed comment) lands here as text.
            self._add(_code_block(_LEAKED_USER.sub(" ", tag.get_text()), ""))
        elif name in _MACROS:
            self._macro(tag, depth)
        elif name == "ac:link":
            self._text(_link_text(tag, depth))
        elif name == "time" and not tag.get_text().strip():
            # Confluence's date picker stores only the attribute; the date is what matters.
            self._text(_attr(tag, "datetime"))
        elif name in _BLOCKS:
            self._end_paragraph()
            self.walk_children(tag, depth)
            self._end_paragraph()
        else:
            # Inline formatting, <a>, spans, comment markers, unknown elements: their text only.
            self.walk_children(tag, depth)

    def _macro(self, tag: Tag, depth: int) -> None:
        name = _attr(tag, "ac:name").strip().lower()
        if name in _NO_TEXT_MACROS:
            return
        if name == "status":
            # Inline lozenge: its label belongs to the sentence around it.
            self._text(f" {_parameter(tag, 'title')} ")
            return
        title = _parameter(tag, "title") if name in _TITLED_MACROS else ""
        if name in ("code", "noformat"):
            language = _parameter(tag, "language").split()
            code = "".join(b.get_text() for b in _own(tag, ["ac:plain-text-body"]))
            if title and code.strip():
                self._add(_Block(_clean(title)))
            self._add(_code_block(code, language[0] if language else ""))
            return
        bodies = list(_own(tag, ["ac:rich-text-body", "ac:plain-text-body"]))
        if not bodies and not title:
            return  # no text; in particular not its parameters
        self._end_paragraph()
        if title:
            self._add(_Block(_clean(title)))
        for body in bodies:
            if body.name == "ac:plain-text-body":
                # Plain text whose line breaks the author typed (a markdown macro, say).
                self._add(_Block(_clean(_LEAKED_USER.sub(" ", body.get_text()))))
            else:
                self.walk_children(body, depth)
                self._end_paragraph()


def _is_block(tag: Tag) -> bool:
    # Not macros: anchors and status lozenges sit inside headings by design.
    return tag.name in _BLOCKS or tag.name in _HEADINGS or tag.name in _LIST_LIKE


def _parameter(macro: Tag, name: str) -> str:
    for parameter in _own(macro, ["ac:parameter"]):
        if _attr(parameter, "ac:name").strip().lower() == name:
            return _one_line(parameter.get_text())
    return ""


def _code_block(code: str, language: str) -> _Block:
    lines = code.replace("\xa0", " ").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return _Block("", "code")
    body = "\n".join(lines)
    # A fence longer than any backtick run inside, so code quoting a fence stays inside it.
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return _Block(f"{fence}{language}\n{body}\n{fence}", "code")


def _render(nodes: Iterable[PageElement], list_indent: int, depth: int) -> list[_Block]:
    walker = _Walker(list_indent, headings=False)
    for node in nodes:
        walker.walk(node, depth + 1)
    return [item for item in walker.finish() if isinstance(item, _Block)]


def _inline_text(node: Tag, depth: int) -> str:
    """Everything in ``node`` on one line: headings, table cells, link bodies."""
    return _one_line(" ".join(b.text for b in _render(node.contents, 0, depth)))


def _link_text(link: Tag, depth: int) -> str:
    for body in _own(link, ["ac:plain-text-link-body", "ac:link-body"]):
        text = _inline_text(body, depth)
        if text:
            return text
    resources = [c for c in link.contents if isinstance(c, Tag) and c.name.startswith("ri:")]
    if not resources:
        resources = [t for t in link.find_all(True) if t.name.startswith("ri:")]
    for resource in resources[:1]:
        if resource.name in ("ri:page", "ri:blog-post"):
            return _one_line(_attr(resource, "ri:content-title"))
        if resource.name == "ri:attachment":
            return _one_line(_attr(resource, "ri:filename"))
        if resource.name == "ri:user":
            return ""  # only an account id: nothing a reader could use
    return _one_line(_attr(link, "ac:anchor"))


def _item_lines(blocks: list[_Block], marker: str, indent: int) -> list[str]:
    """One list item: the marker on its first line of text, continuation lines aligned."""
    lines: list[str] = []
    first = True
    for block in blocks:
        if block.kind != "text":
            lines.extend(block.text.split("\n"))
            continue
        for line in block.text.split("\n"):
            if not line:
                continue
            prefix = marker if first else " " * len(marker)
            lines.append(" " * indent + prefix + line)
            first = False
    return lines


def _list_lines(tag: Tag, indent: int, depth: int) -> list[str]:
    number = _start(tag)
    lines: list[str] = []
    for child in tag.contents:
        if isinstance(child, Tag) and child.name in ("ul", "ol"):
            # A list directly inside a list, as older editors wrote an indented sub-list.
            lines.extend(_list_lines(child, indent + 2, depth + 1))
            continue
        nodes = child.contents if isinstance(child, Tag) and child.name == "li" else [child]
        blocks = _render(nodes, indent + 2, depth)
        if not blocks:
            continue
        marker = f"{number}. " if tag.name == "ol" else "- "
        number += 1
        lines.extend(_item_lines(blocks, marker, indent))
    return lines


def _start(tag: Tag) -> int:
    start = _attr(tag, "start").strip()
    return int(start) if start.isdigit() and len(start) < 7 else 1


def _task_lines(task_list: Tag, indent: int, depth: int) -> list[str]:
    lines: list[str] = []
    for child in task_list.contents:
        if not isinstance(child, Tag):
            continue
        if child.name == "ac:task-list":
            lines.extend(_task_lines(child, indent + 2, depth + 1))
            continue
        if child.name != "ac:task":
            continue
        status = next(_own(child, ["ac:task-status"]), None)
        done = status is not None and status.get_text().strip().lower() == "complete"
        blocks = _render(child.contents, indent + 2, depth)
        lines.extend(_item_lines(blocks, "- [x] " if done else "- [ ] ", indent))
    return lines


def _table_lines(table: Tag, depth: int) -> list[str]:
    lines = [_inline_text(c, depth) for c in _own(table, ["caption"], stop=["table"])]
    for row in _own(table, ["tr"], stop=["table"]):
        cells = [_inline_text(c, depth) for c in _own(row, ["th", "td"], stop=["table", "tr"])]
        while cells and not cells[-1]:
            cells.pop()
        # Empty cells keep their place so values stay under their column's header.
        line = " |".join(f" {cell}" if cell else "" for cell in cells).strip()
        if line:
            lines.append(line)
    return [line for line in lines if line]


# --- sections -------------------------------------------------------------------------------


def _assemble(items: list[_Heading | _Block], title: str) -> tuple[Section, ...]:
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    blocks: list[str] = []
    first_heading = True

    def end_section() -> None:
        text = "\n\n".join(blocks)
        blocks.clear()
        if text.strip():
            sections.append(Section(tuple(h for _, h in path), text))

    for item in items:
        if isinstance(item, _Block):
            blocks.append(item.text)
            continue
        end_section()
        repeats_title = item.level == 1 and item.text.casefold() == _one_line(title).casefold()
        if first_heading and repeats_title:
            first_heading = False
            continue
        first_heading = False
        while path and path[-1][0] >= item.level:
            path.pop()
        path.append((item.level, item.text))
    end_section()
    return tuple(sections)
