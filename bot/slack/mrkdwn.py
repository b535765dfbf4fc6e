"""An answer's Markdown (parsed once by :mod:`bot.markdown`) -> Slack mrkdwn.

Every piece of text goes through :mod:`bot.slack.escaping`, so the output obeys its rule: the only
``<`` are links :func:`~bot.slack.escaping.link` wrote around a checked URL. Rendering decisions:

* ``>`` at the start of a line is mrkdwn's quote. A Markdown blockquote becomes exactly that (the
  only unescaped ``>`` written outside a link; nested quotes flatten to one); every other ``>`` is
  ``&gt;``. A literal ``>`` cannot form a mention or a link: those need a ``<``, and none is left.
* Bold ``*…*``, italic ``_…_``, strikethrough ``~…~``; headings are bold lines; lists use
  ``•``/``◦``/``▪`` bullets (four spaces a level) or the author's numbers; tasks ``☐``/``☑``; a
  rule is a line of ``─``. Blank lines between blocks are kept as the author left them.
* Code (inline and fenced) is never reformatted, only escaped; a fence's language is dropped
  (mrkdwn has no highlighting), and a backtick inside inline code becomes ``ˋ``.
* Links: ``[text](url)`` -> ``<url|text>`` for http(s) and mailto URLs only; others keep their
  text. Bare URLs and ``<…>`` autolinks show the URL as their label. Text objects are also sent
  with ``verbatim: true`` by the renderer, so Slack links nothing else itself.

:func:`escape` and :func:`split_mrkdwn` are re-exported: callers convert and split in one import.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.markdown import (
    Block,
    Break,
    Code,
    CodeBlock,
    Heading,
    Inline,
    ListBlock,
    Paragraph,
    Quote,
    Rule,
    Styled,
    Text,
    parse,
)
from bot.slack.escaping import break_fences, code_block, defuse, escape, link, link_label
from bot.slack.sections import split_mrkdwn

__all__ = ["escape", "render_blocks", "render_inlines", "split_mrkdwn", "to_mrkdwn"]

RULE_LINE = "──────────"
BULLETS = ("•", "◦", "▪")
MAX_LEVEL = 5  # list nesting shown; deeper items stay at this indentation
_INDENT = "    "


def to_mrkdwn(markdown: str) -> str:
    """Convert Markdown to Slack mrkdwn (see the module docstring for the rules)."""
    return render_blocks(parse(markdown))


def render_blocks(blocks: Sequence[Block]) -> str:
    text = _join(blocks, 0, quoted=False)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def render_inlines(nodes: Sequence[Inline], *, bold: bool = True, links: bool = True) -> str:
    """Inline Markdown -> mrkdwn. ``bold=False`` drops strong emphasis (inside a heading, which is
    bold already); ``links=False`` shows link labels only (inside a link's label)."""
    return defuse("".join(_inline(node, bold, links) for node in nodes))


def _inline(node: Inline, bold: bool, links: bool) -> str:
    if isinstance(node, Text):
        return break_fences(escape(node.text))
    if isinstance(node, Code):
        if not node.code.strip():
            return "`" + escape(node.code) + "`"
        return "`" + escape(node.code.replace("`", "ˋ")) + "`"
    if isinstance(node, Break):
        return "\n"
    if isinstance(node, Styled):
        return _styled(node, bold, links)
    label = render_inlines(node.children, bold=bold, links=False)
    if not links:
        return label
    if node.kind in ("autolink", "bare"):
        return link(node.url, link_label(node.url))
    return link(node.url, label or link_label(node.url))


def _styled(node: Styled, bold: bool, links: bool) -> str:
    inner = "".join(_inline(child, bold, links) for child in node.children)
    if node.style == "strike":
        return f"~{inner}~"
    if node.style == "strong":
        return f"*{inner}*" if bold else inner
    only = node.children[0] if len(node.children) == 1 else None
    if isinstance(only, Styled) and only.style == "strong" and bold:
        # ***both***: mrkdwn wants the bold outside
        return "*_" + "".join(_inline(child, bold, links) for child in only.children) + "_*"
    return f"_{inner}_"


def _join(blocks: Sequence[Block], level: int, *, quoted: bool) -> str:
    out: list[str] = []
    for k, block in enumerate(blocks):
        if k:
            out.append("\n\n" if block.blank_before else "\n")
        out.append(_block(block, level, quoted=quoted))
    return "".join(out)


def _block(block: Block, level: int, *, quoted: bool) -> str:
    if isinstance(block, Paragraph):
        return render_inlines(block.inlines)
    if isinstance(block, Heading):
        title = render_inlines(block.inlines, bold=False).strip()
        return f"*{title}*" if title else ""
    if isinstance(block, CodeBlock):
        return code_block(block.code)
    if isinstance(block, Rule):
        return RULE_LINE
    if isinstance(block, Quote):
        inner = _join(block.blocks, level, quoted=True)
        if quoted:  # nested quotes flatten into the outer one
            return inner
        return "\n".join(f"> {line}" if line else ">" for line in inner.split("\n"))
    return _list(block, level, quoted=quoted)


def _list(block: ListBlock, level: int, *, quoted: bool) -> str:
    shown = min(level, MAX_LEVEL)
    out: list[str] = []
    for k, item in enumerate(block.items):
        if k:
            out.append("\n\n" if item.blank_before else "\n")
        marker = f"{item.number}." if item.number is not None else BULLETS[shown % len(BULLETS)]
        if item.checked is not None:
            marker += " ☑" if item.checked else " ☐"
        body = _join(item.blocks, level + 1, quoted=quoted)
        if item.blocks and isinstance(item.blocks[0], ListBlock):
            out.append(_INDENT * shown + marker + "\n" + body)
            continue
        # Not at the start of a line any more: a leading ">" would be shown, not quote.
        if body.startswith(">"):
            body = "&gt;" + body[1:]
        out.append(_INDENT * shown + marker + (" " + body if body else ""))
    return "".join(out)
