"""Walking a storage-format tree into headings and text blocks: paragraphs, line breaks,
lists (``- `` / ``1. ``, two spaces per nesting level), task lists (``- [x]`` / ``- [ ]``),
tables (one line per row, cells joined by `` | ``), ``<pre>`` code, links by their visible
text, date pickers by their date; macros are storage_macros.py's.
"""

from __future__ import annotations

from collections.abc import Iterable

from bs4.element import PageElement, Tag

from .storage_macros import code_block, is_macro, write_macro
from .storage_markup import (
    BLOCKS,
    HEADINGS,
    LEAKED_USER,
    SKIP,
    WHITESPACE,
    Block,
    Heading,
    attr,
    clean,
    flat_text,
    is_text,
    one_line,
    own,
)

# Elements rendered as blocks of their own lines; an unclosed heading ends before the first.
_LIST_LIKE = frozenset({"ul", "ol", "table", "pre", "ac:task-list"})

# Beyond this nesting depth a subtree is read as flat text: a malformed body (thousands of
# unclosed tags) must not exhaust the interpreter's recursion limit.
_MAX_DEPTH = 60


class Walker:
    """Turns a subtree into headings and text blocks, keeping a running paragraph."""

    def __init__(self, list_indent: int, headings: bool) -> None:
        self._list_indent = list_indent
        self._headings = headings
        self._items: list[Heading | Block] = []
        self._inline: list[str] = []

    def finish(self) -> list[Heading | Block]:
        self.end_paragraph()
        return self._items

    def walk_children(self, node: Tag, depth: int) -> None:
        for child in node.contents:
            self.walk(child, depth + 1)

    def walk(self, node: PageElement, depth: int) -> None:
        if isinstance(node, Tag):
            if depth > _MAX_DEPTH:
                self.text(flat_text(node))
            else:
                self._tag(node, depth)
        elif is_text(node):
            self.text(LEAKED_USER.sub(" ", str(node)))

    def text(self, text: str) -> None:
        self._inline.append(WHITESPACE.sub(" ", text))

    def end_paragraph(self) -> None:
        text = clean("".join(self._inline))
        self._inline.clear()
        if text:
            self._items.append(Block(text))

    def add(self, block: Block) -> None:
        self.end_paragraph()
        if block.text.strip():
            self._items.append(block)

    def _tag(self, tag: Tag, depth: int) -> None:
        name = tag.name
        if name in SKIP:
            return
        if name in HEADINGS:
            # An unclosed heading swallows the blocks after it; those are body text, not title.
            split = next(
                (i for i, c in enumerate(tag.contents) if isinstance(c, Tag) and _is_block(c)),
                len(tag.contents),
            )
            text = one_line(" ".join(b.text for b in _render(tag.contents[:split], 0, depth)))
            self.end_paragraph()
            if text and self._headings:
                self._items.append(Heading(HEADINGS[name], text))
            elif text:
                self._items.append(Block(text))
            for child in tag.contents[split:]:
                self.walk(child, depth + 1)
        elif name == "br":
            self._inline.append("\n")
        elif name in ("ul", "ol"):
            self.add(Block("\n".join(_list_lines(tag, self._list_indent, depth)), "list"))
        elif name == "ac:task-list":
            self.add(Block("\n".join(_task_lines(tag, self._list_indent, depth)), "list"))
        elif name == "table":
            self.add(Block("\n".join(_table_lines(tag, depth))))
        elif name == "pre":
            # Not CDATA: markup html.parser could not read (an unclosed comment) lands here as text.
            self.add(code_block(LEAKED_USER.sub(" ", tag.get_text()), ""))
        elif is_macro(tag):
            write_macro(self, tag, depth)
        elif name == "ac:link":
            self.text(_link_text(tag, depth))
        elif name == "time" and not tag.get_text().strip():
            # Confluence's date picker stores only the attribute; the date is what matters.
            self.text(attr(tag, "datetime"))
        elif name in BLOCKS:
            self.end_paragraph()
            self.walk_children(tag, depth)
            self.end_paragraph()
        else:
            # Inline formatting, <a>, spans, comment markers, unknown elements: their text only.
            self.walk_children(tag, depth)


def _is_block(tag: Tag) -> bool:
    # Not macros: anchors and status lozenges sit inside headings by design.
    return tag.name in BLOCKS or tag.name in HEADINGS or tag.name in _LIST_LIKE


def _render(nodes: Iterable[PageElement], list_indent: int, depth: int) -> list[Block]:
    walker = Walker(list_indent, headings=False)
    for node in nodes:
        walker.walk(node, depth + 1)
    return [item for item in walker.finish() if isinstance(item, Block)]


def _inline_text(node: Tag, depth: int) -> str:
    """Everything in ``node`` on one line: headings, table cells, link bodies."""
    return one_line(" ".join(b.text for b in _render(node.contents, 0, depth)))


def _link_text(link: Tag, depth: int) -> str:
    for body in own(link, ["ac:plain-text-link-body", "ac:link-body"]):
        text = _inline_text(body, depth)
        if text:
            return text
    resources = [c for c in link.contents if isinstance(c, Tag) and c.name.startswith("ri:")]
    if not resources:
        resources = [t for t in link.find_all(True) if t.name.startswith("ri:")]
    for resource in resources[:1]:
        if resource.name in ("ri:page", "ri:blog-post"):
            return one_line(attr(resource, "ri:content-title"))
        if resource.name == "ri:attachment":
            return one_line(attr(resource, "ri:filename"))
        if resource.name == "ri:user":
            return ""  # only an account id: nothing a reader could use
    return one_line(attr(link, "ac:anchor"))


def _item_lines(blocks: list[Block], marker: str, indent: int) -> list[str]:
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
    start = attr(tag, "start").strip()
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
        status = next(own(child, ["ac:task-status"]), None)
        done = status is not None and status.get_text().strip().lower() == "complete"
        blocks = _render(child.contents, indent + 2, depth)
        lines.extend(_item_lines(blocks, "- [x] " if done else "- [ ] ", indent))
    return lines


def _table_lines(table: Tag, depth: int) -> list[str]:
    lines = [_inline_text(c, depth) for c in own(table, ["caption"], stop=["table"])]
    for row in own(table, ["tr"], stop=["table"]):
        cells = [_inline_text(c, depth) for c in own(row, ["th", "td"], stop=["table", "tr"])]
        while cells and not cells[-1]:
            cells.pop()
        # Empty cells keep their place so values stay under their column's header.
        line = " |".join(f" {cell}" if cell else "" for cell in cells).strip()
        if line:
            lines.append(line)
    return [line for line in lines if line]

