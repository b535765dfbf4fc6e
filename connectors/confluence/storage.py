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

The work is shared by three modules: storage_markup.py parses a body leniently (and says why
with html.parser), storage_walker.py walks the tree into headings and blocks, storage_macros.py
decides what each macro shows. Nothing raises on malformed input; whatever the parser could
read is returned.
"""

from __future__ import annotations

from core.models import Section

from .storage_markup import Block, Heading, one_line, parse
from .storage_walker import Walker

__all__ = ["storage_to_sections"]


def storage_to_sections(storage: str, title: str) -> tuple[Section, ...]:
    """Convert one page body in storage format to sections of plain text.

    ``title`` is the page title; it is only used to drop a leading ``h1`` that repeats it.
    Empty or whitespace-only bodies give ``()``. Never raises on malformed markup.
    """
    if not storage or not storage.strip():
        return ()
    walker = Walker(list_indent=0, headings=True)
    walker.walk_children(parse(storage), 0)
    return _assemble(walker.finish(), title)


def _assemble(items: list[Heading | Block], title: str) -> tuple[Section, ...]:
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
        if isinstance(item, Block):
            blocks.append(item.text)
            continue
        end_section()
        repeats_title = item.level == 1 and item.text.casefold() == one_line(title).casefold()
        if first_heading and repeats_title:
            first_heading = False
            continue
        first_heading = False
        while path and path[-1][0] >= item.level:
            path.pop()
        path.append((item.level, item.text))
    end_section()
    return tuple(sections)
