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
* Deeper than :data:`core.markdown_nesting.DEEPEST_CONTAINER` nested quotes or lists, each line is a plain
  paragraph (markdown-it would drop all text past its nesting bound).

Every block and list item says whether a blank line came before it (``blank_before``), so a
renderer can keep the spacing the author chose.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from markdown_it.token import Token

from bot.markdown_parser import new_parser

AUTOLINK = re.compile(r"(?:https?://|mailto:)[^\s<>]+", re.IGNORECASE)
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
    blocks, _ = _Tree(source.split("\n")).blocks(new_parser().parse(source), 0, None)
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
