"""An answer's Markdown -> a small tree of blocks and inlines, parsed once, for every surface.

Rule: renderers (Slack mrkdwn, Slack's streamed Markdown, Teams) read this tree, never the
Markdown. It is parsed by markdown-it-py (CommonMark + strikethrough), whose running time grows
linearly with the input, and it knows nothing of any chat platform.

The input is untrusted (model output, sentences quoted from documents), so the parse is narrow:

* No raw HTML (it stays text) and no entities decoded (``&lt;`` stays those four characters).
* No reference definitions: ``[1]`` stays a citation marker and ``[1]: https://…`` plain text.
* No setext headings (a ``---`` line is a rule), and text indented by four spaces is plain
  text lines, not code: models indent for layout, and a fence indented that far is no fence.
* Every ``[label](url)`` is parsed whatever its scheme: whether a URL may be linked is each
  renderer's policy, so :attr:`Link.url` is exactly what the Markdown said.
* Bare ``http(s)://`` URLs are links (``kind="bare"``), found before emphasis is read, so a
  ``_`` or ``*`` inside a URL stays in it; trailing sentence punctuation is not part of one.
* ``<…>`` autolinks are links only for ``http(s)://`` and ``mailto:``; others (``<a@b>``,
  ``<!subteam^S1|@team>``) stay text.
* ``*`` emphasis needs word boundaries (``2*3*4`` stays text); ``_`` follows CommonMark.
* A list item starting ``[ ]`` / ``[x]`` is a task (:attr:`ListItem.checked`).
* Below :data:`DEEPEST` nested quotes or lists, each line is a plain paragraph (markdown-it would
  drop all text past its nesting bound).

Every block and list item says whether a blank line came before it (``blank_before``), so a
renderer can keep the spacing the author chose.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from markdown_it import MarkdownIt, helpers
from markdown_it.helpers.parse_link_destination import _Result
from markdown_it.rules_block import StateBlock
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token

NESTING = 20  # markdown-it's CommonMark bound on recursion
DEEPEST = NESTING - 2  # a list item opens two levels before its content
# Scanning a link label costs up to this many steps per character (``[[[[…``); real text nests
# an image in a link, perhaps a bracket in a label, no deeper.
INLINE_NESTING = 8
BARE_URL = re.compile(r"https?://[^\s<>\"'`|\[\]]+", re.IGNORECASE)
AUTOLINK = re.compile(r"(?:https?://|mailto:)[^\s<>]+", re.IGNORECASE)
_SCHEME_AT_END = re.compile(r"https?$", re.IGNORECASE)
_TASK = re.compile(r"^\[([ xX])\][ \t]+")

@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Code:
    code: str


@dataclass(frozen=True)
class Styled:
    style: Literal["strong", "emphasis", "strike"]
    children: tuple[Inline, ...]


@dataclass(frozen=True)
class Link:
    url: str  # as written: not checked, not normalised
    children: tuple[Inline, ...]  # the label (an image's alt text)
    kind: Literal["link", "image", "autolink", "bare"] = "link"


@dataclass(frozen=True)
class Break:
    """A line break inside a paragraph."""


Inline = Text | Code | Styled | Link | Break


@dataclass(frozen=True)
class Paragraph:
    inlines: tuple[Inline, ...]
    blank_before: bool = False


@dataclass(frozen=True)
class Heading:
    level: int
    inlines: tuple[Inline, ...]
    blank_before: bool = False


@dataclass(frozen=True)
class CodeBlock:
    code: str  # without the final newline
    language: str = ""
    blank_before: bool = False


@dataclass(frozen=True)
class Rule:
    blank_before: bool = False


@dataclass(frozen=True)
class Quote:
    blocks: tuple[Block, ...]
    blank_before: bool = False


@dataclass(frozen=True)
class ListItem:
    blocks: tuple[Block, ...]
    number: int | None = None  # as written, in an ordered list
    checked: bool | None = None  # a task item
    blank_before: bool = False


@dataclass(frozen=True)
class ListBlock:
    items: tuple[ListItem, ...]
    ordered: bool = False
    blank_before: bool = False


Block = Paragraph | Heading | CodeBlock | Rule | Quote | ListBlock


def parse(markdown: str) -> tuple[Block, ...]:
    """The blocks of ``markdown`` (see the module docstring for what is read how)."""
    source = markdown.replace("\r\n", "\n").replace("\r", "\n")
    blocks, _ = _Tree(source.split("\n")).blocks(_parser().parse(source), 0, None)
    return tuple(blocks)


def plain_text(inlines: Sequence[Inline]) -> str:
    """What the inlines say, without markup (a link shows its label)."""
    out: list[str] = []
    for node in inlines:
        if isinstance(node, Text):
            out.append(node.text)
        elif isinstance(node, Code):
            out.append(node.code)
        elif isinstance(node, (Styled, Link)):
            out.append(plain_text(node.children))
        else:
            out.append("\n")
    return "".join(out)


def trim_url(url: str) -> str:
    """A bare URL without the sentence's trailing punctuation (a ``)`` stays if it is balanced)."""
    while url and url[-1] in ".,;:!?*_~'\")":
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


# ---- the parser ------------------------------------------------------------------------------


class _AsWritten:
    """markdown-it's link helpers, except that a destination is kept as written: CommonMark would
    undo backslash escapes and entities in it, and ``https://evil.example\\@intranet.example/``
    must keep pointing where a browser would go."""

    parseLinkLabel = staticmethod(helpers.parseLinkLabel)
    parseLinkTitle = staticmethod(helpers.parseLinkTitle)

    @staticmethod
    def parseLinkDestination(src: str, pos: int, maximum: int) -> _Result:
        found = helpers.parseLinkDestination(src, pos, maximum)
        if found.ok:
            written = src[pos : found.pos]
            found.str = written[1:-1] if written.startswith("<") else written
        return found


class _Parser(MarkdownIt):
    """Links are parsed as written (markdown-it's hook names): renderers decide which may link."""

    def __init__(self, config: str, options: dict[str, object]) -> None:
        super().__init__(config, options)
        self.helpers = _AsWritten  # type: ignore[assignment]  # same three functions

    def validateLink(self, url: str) -> bool:
        return True

    def normalizeLink(self, url: str) -> str:
        return url

    def normalizeLinkText(self, link: str) -> str:
        return link


def _parser() -> MarkdownIt:
    # Built per call (well under a millisecond): a shared instance would be mutable global state.
    md = _configured(NESTING)
    md.block.ruler.before("table", "flatten_deep", _flatten_deep)
    inline = _configured(INLINE_NESTING)

    def parse_inlines(state: StateCore) -> None:
        # markdown-it's own core rule, with the inline parser's tighter nesting bound.
        for token in state.tokens:
            if token.type == "inline":
                token.children = inline.inline.parse(token.content, inline, state.env, [])

    md.core.ruler.at("inline", parse_inlines)
    return md


def _configured(nesting: int) -> MarkdownIt:
    md = _Parser("commonmark", {"html": False, "maxNesting": nesting})
    md.enable("strikethrough")
    md.disable(["reference", "lheading", "html_block", "html_inline", "entity"])
    md.inline.ruler.before("linkify", "bare_url", _bare_url)
    return md


def _flatten_deep(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    if state.level < DEEPEST:
        return False
    if silent:
        return True
    opening = state.push("paragraph_open", "p", 1)
    opening.map = [start, start + 1]
    inline = state.push("inline", "", 0)
    inline.content = state.src[state.bMarks[start] + state.tShift[start] : state.eMarks[start]]
    inline.map = [start, start + 1]
    inline.children = []
    state.push("paragraph_close", "p", -1)
    state.line = start + 1
    return True


def _bare_url(state: StateInline, silent: bool) -> bool:
    """At the ``:`` of ``http(s)://``: the scheme is still pending text, and no word before it."""
    pos = state.pos
    if state.linkLevel > 0 or not state.src.startswith("://", pos):
        return False
    scheme = _SCHEME_AT_END.search(state.pending)
    if scheme is None:
        return False
    start = pos - len(scheme.group())
    if start > 0 and state.src[start - 1].isalnum():
        return False
    found = BARE_URL.match(state.src, start)
    url = trim_url(found.group()) if found else ""
    if len(url) <= len(scheme.group()) + 3:
        return False
    if not silent:
        state.pending = state.pending[: -len(scheme.group())]
        state.push("link_open", "a", 1).attrs = {"href": url}
        state.tokens[-1].markup = "bare"
        state.push("text", "", 0).content = url
        state.push("link_close", "a", -1).markup = "bare"
    state.pos = start + len(url)
    return True


# ---- tokens -> tree --------------------------------------------------------------------------


_QUOTE_OR_BLANK = re.compile(r"[\s>]*")


@dataclass(frozen=True)
class _Tree:
    """markdown-it's flat block tokens -> nested blocks."""

    source: list[str]

    def blank_before(self, token: Token) -> bool:
        """The source line before the token's first line is blank (inside a quote: only ``>``)."""
        first = token.map[0] if token.map else 0
        return first > 0 and _QUOTE_OR_BLANK.fullmatch(self.source[first - 1]) is not None

    def blocks(self, tokens: Sequence[Token], i: int, closing: str | None) -> tuple[list[Block], int]:
        """Blocks from ``tokens[i]`` up to the token of type ``closing``; returns them and the
        index after it."""
        out: list[Block] = []
        while i < len(tokens):
            token = tokens[i]
            kind = token.type
            if kind == closing:
                return out, i + 1
            gap = bool(out) and self.blank_before(token)
            if kind == "paragraph_open":
                out.append(Paragraph(_inlines(tokens[i + 1].children or []), gap))
                i += 3
            elif kind == "heading_open":
                out.append(Heading(int(token.tag[1:]), _inlines(tokens[i + 1].children or []), gap))
                i += 3
            elif kind == "fence":
                language = token.info.strip().split(" ")[0] if token.info else ""
                out.append(CodeBlock(token.content.removesuffix("\n"), language, gap))
                i += 1
            elif kind == "code_block":
                text = token.content.removesuffix("\n").split("\n")
                plain: list[Inline] = [Text(text[0].strip())]
                for line in text[1:]:
                    plain += [Break(), Text(line.strip())]
                out.append(Paragraph(tuple(_merge_text(plain)), gap))
                i += 1
            elif kind == "hr":
                out.append(Rule(gap))
                i += 1
            elif kind == "blockquote_open":
                inner, i = self.blocks(tokens, i + 1, "blockquote_close")
                out.append(Quote(tuple(inner), gap))
            elif kind in ("bullet_list_open", "ordered_list_open"):
                ordered = kind == "ordered_list_open"
                items: list[ListItem] = []
                i += 1
                while tokens[i].type == "list_item_open":
                    item = tokens[i]
                    inner, i = self.blocks(tokens, i + 1, "list_item_close")
                    number = int(item.info) if ordered and item.info.isdigit() else None
                    spaced = bool(items) and self.blank_before(item)
                    items.append(_task(ListItem(tuple(inner), number, None, spaced)))
                out.append(ListBlock(tuple(items), ordered, gap))
                i += 1  # the list's closing token
            else:  # nothing else is enabled; skip what a future rule might add
                i += 1
        return out, i


def _task(item: ListItem) -> ListItem:
    first = item.blocks[0] if item.blocks else None
    if not isinstance(first, Paragraph) or not first.inlines or not isinstance(first.inlines[0], Text):
        return item
    match = _TASK.match(first.inlines[0].text)
    if match is None:
        return item
    rest = first.inlines[0].text[match.end() :]
    inlines = ((Text(rest),) if rest else ()) + first.inlines[1:]
    return replace(item, blocks=(replace(first, inlines=inlines), *item.blocks[1:]),
                   checked=match.group(1) in "xX")


_STYLES: dict[str, Literal["strong", "emphasis", "strike"]] = {
    "strong_open": "strong", "em_open": "emphasis", "s_open": "strike",
}


def _inlines(tokens: Sequence[Token]) -> tuple[Inline, ...]:
    nodes, _ = _read_inlines(tokens, 0, None)
    return tuple(_merge_text(nodes))


def _read_inlines(tokens: Sequence[Token], i: int, closing: str | None) -> tuple[list[Inline], int]:
    out: list[Inline] = []
    while i < len(tokens):
        token = tokens[i]
        kind = token.type
        if kind == closing:
            return out, i + 1
        if kind == "text":
            out.append(Text(token.content))
        elif kind == "code_inline":
            out.append(Code(token.content))
        elif kind in ("softbreak", "hardbreak"):
            out.append(Break())
        elif kind == "image":
            label, _ = _read_inlines(token.children or [], 0, None)
            out.append(Link(str(token.attrs.get("src", "")), tuple(_merge_text(label)), "image"))
        elif kind == "link_open":
            label, end = _read_inlines(tokens, i + 1, "link_close")
            out.extend(_link(token, label))
            i = end
            continue
        elif kind in _STYLES:
            children, end = _read_inlines(tokens, i + 1, kind.replace("_open", "_close"))
            if kind == "em_open" and token.markup == "*" and _inside_word(tokens, i, end - 1):
                out.extend([Text("*"), *children, Text("*")])
            else:
                out.append(Styled(_STYLES[kind], tuple(_merge_text(children))))
            i = end
            continue
        i += 1
    return out, i


def _link(token: Token, label: list[Inline]) -> list[Inline]:
    url = str(token.attrs.get("href", ""))
    if token.markup == "bare":
        return [Link(url, tuple(label), "bare")]
    if token.markup == "autolink":
        written = plain_text(label)
        if written != url or not AUTOLINK.fullmatch(url):
            return [Text("<" + written + ">")]
        return [Link(url, tuple(label), "autolink")]
    return [Link(url, tuple(_merge_text(label)), "link")]


def _inside_word(tokens: Sequence[Token], opening: int, closing: int) -> bool:
    """A ``*`` emphasis touching a word (or another ``*``) on its outer side."""
    before = _edge(tokens[opening - 1], last=True) if opening > 0 else ""
    after = _edge(tokens[closing + 1], last=False) if closing + 1 < len(tokens) else ""
    return any(c.isalnum() or c in "_*" for c in (before, after) if c)


def _edge(token: Token, *, last: bool) -> str:
    text = token.content if token.type == "text" else token.markup
    return (text[-1] if last else text[0]) if text else ""


def _merge_text(nodes: list[Inline]) -> list[Inline]:
    out: list[Inline] = []
    for node in nodes:
        if isinstance(node, Text) and out and isinstance(out[-1], Text):
            out[-1] = Text(out[-1].text + node.text)
        elif not (isinstance(node, Text) and not node.text):
            out.append(node)
    return out
