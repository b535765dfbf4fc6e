"""Markdown bytes -> title and heading-structured sections.

One rule: the body is read by a real CommonMark parser (markdown-it-py, with the GFM table and
strikethrough extensions), whose running time grows linearly with the input, and never by
hand-written regexes; the inline regexes this replaced took 23 s, holding the interpreter lock,
on one 96 KB line of `` *a``.

What a reader of the index needs is kept and the markup is dropped: top-level headings (ATX and
setext) make the heading path and the first H1 is the title; code stays verbatim; links become
their text and images their alt text; list items stay ``- `` lines; table rows become
``a | b`` lines; HTML blocks keep their text without the tags.

Front matter means something only to a source that defines it: the files connector reads it for
a title and an access rule (connectors.files.parse) and hands the rest to
:func:`markdown_document`. Here, for any other source (Confluence attachments), every line is
text: a leading ``---`` block is read as Markdown, never dropped unread.

markdown-it-py drops the whole rest of a document, silently, once block quotes or lists nest
deeper than its ``maxNesting``; :func:`core.markdown_nesting.flatten_deep` reads such deep lines as plain paragraphs
instead, so that no text after them goes missing from the index.
"""

from __future__ import annotations

from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.token import Token

from core.markdown_nesting import BLOCK_NESTING, INLINE_NESTING, bounded

from .parsed import Outline, Parsed, decode_text

_DROPPED_HTML = ("<script", "<style")  # their content is code, not text for a reader


def parse_markdown(relpath: str, data: bytes) -> Parsed:
    """A Markdown document, all of it; the title is its first H1. Raises ParseError for text
    that is not UTF-8."""
    return markdown_document(decode_text(data).split("\n"))


def markdown_document(
    lines: Sequence[str], *, title: str | None = None, acl_clause: frozenset[str] | None = None,
    owner: str | None = None,
) -> Parsed:
    """A Markdown body (front matter already taken off) with the ``title``, ``acl_clause`` and
    ``owner`` its caller read elsewhere; without a title, the first H1 is the title."""
    outline = Outline("\n")
    first_h1 = _Writer(outline).write(_block_parser().parse("\n".join(lines)))
    return Parsed(title or first_h1, outline.sections(), acl_clause, owner)


def _block_parser() -> MarkdownIt:
    # Built per document (well under 1 ms): a shared instance would be module-level mutable state.
    block = MarkdownIt("commonmark", {"maxNesting": BLOCK_NESTING}).enable(["table", "strikethrough"])
    return bounded(block, MarkdownIt("commonmark", {"maxNesting": INLINE_NESTING}).enable("strikethrough"))


def _html_parser() -> MarkdownIt:
    """Only what strips an HTML block down to its text: tags and comments, entities, breaks."""
    return MarkdownIt("zero", {"html": True}).enable(["html_inline", "entity", "newline"])


class _Writer:
    """Turns markdown-it's flat token stream into outline headings and text blocks."""

    def __init__(self, outline: Outline) -> None:
        self._outline = outline
        self._first_h1: str | None = None
        self._lists: list[bool] = []  # ordered?, innermost last
        self._indents: list[str] = []  # continuation indent of each open list item
        self._marker: str | None = None  # prefix for the first line of a just-opened item
        self._heading: int | None = None  # level of the top-level heading being read
        self._tight_paragraph = False
        self._last_was_tight = False
        self._row: list[str] | None = None
        self._rows: list[str] = []

    def write(self, tokens: Sequence[Token]) -> str | None:
        """Writes every token; returns the text of the first top-level H1."""
        for token in tokens:
            self._token(token)
        return self._first_h1

    def _token(self, token: Token) -> None:
        kind = token.type
        if kind == "inline":
            self._inline(_inline_text(token.children or ()))
        elif kind == "heading_open":
            self._heading = int(token.tag[1]) if token.level == 0 else None
        elif kind == "heading_close":
            self._heading = None
        elif kind == "paragraph_open":
            self._tight_paragraph = token.hidden  # markdown-it hides paragraphs of tight lists
        elif kind == "paragraph_close":
            self._tight_paragraph = False
        elif kind in ("bullet_list_open", "ordered_list_open"):
            self._lists.append(kind == "ordered_list_open")
        elif kind in ("bullet_list_close", "ordered_list_close"):
            self._lists.pop()
        elif kind == "list_item_open":
            marker = f"{token.info}{token.markup} " if self._lists[-1] else "- "
            self._marker = (self._marker or "".join(self._indents)) + marker
            self._indents.append(" " * len(marker))
        elif kind == "list_item_close":
            self._indents.pop()
            self._marker = None  # an empty item writes nothing
        elif kind in ("fence", "code_block"):
            self._block(token.content.rstrip("\n"))
        elif kind == "html_block":
            if not token.content.lstrip().lower().startswith(_DROPPED_HTML):
                self._block(_html_text(token.content))
        elif kind == "tr_open":
            self._row = []
        elif kind == "tr_close" and self._row is not None:
            line = " | ".join(cell for cell in self._row if cell)
            if line:
                self._rows.append(line)
            self._row = None
        elif kind == "table_close":
            self._block("\n".join(self._rows))
            self._rows = []
        # Everything else (block quotes, hr, table sections, cells) is markup, not text.

    def _inline(self, text: str) -> None:
        if self._row is not None:
            self._row.append(" ".join(text.split()))
        elif self._heading is not None:
            words = " ".join(text.split())
            if words:
                self._outline.heading(self._heading, words)
                self._last_was_tight = False
                if self._heading == 1 and self._first_h1 is None:
                    self._first_h1 = words
        else:
            self._block(text, tight=self._tight_paragraph)

    def _block(self, text: str, tight: bool = False) -> None:
        """One leaf block; blank lines separate blocks, except the items of a tight list."""
        if not text.strip():
            return
        if not (tight and self._last_was_tight):
            self._outline.add("")
        self._last_was_tight = tight
        indent = "".join(self._indents)
        first, *rest = text.split("\n")
        lines = [(self._marker if self._marker is not None else indent) + first]
        lines.extend(indent + line if line else line for line in rest)
        self._marker = None
        self._outline.add("\n".join(lines))


def _inline_text(tokens: Sequence[Token]) -> str:
    """Text and code as written; images by their alt text; tags, URLs and emphasis dropped."""
    out: list[str] = []
    for token in tokens:
        if token.type in ("text", "code_inline"):
            out.append(token.content)
        elif token.type in ("softbreak", "hardbreak"):
            out.append("\n")
        elif token.type == "image":
            # Alt text nests no deeper than the inline bound: labels stop matching there.
            out.append(_inline_text(token.children or ()))
    return "".join(out)


def _html_text(html: str) -> str:
    inline = _html_parser().parseInline(html)
    return "".join(_inline_text(token.children or ()) for token in inline)
