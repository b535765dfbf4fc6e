"""An answer's Markdown (parsed once by :mod:`bot.markdown`) -> the Markdown a Teams message shows.

Rule: every piece of text from a document or a model goes through :func:`escape`, so the only
Markdown syntax and the only HTML in the output are what this module wrote. Teams renders a
``textFormat: markdown`` message's ``*``/``_`` emphasis, ``~~`` strikes, backtick code,
``[label](url)`` links, ``#`` headings, lists, ``>`` quotes and a subset of HTML (``<at>`` among
it: a mention's text; ``<a href>``; ``<b>``...). So:

* ``&``, ``<`` and ``>`` become HTML entities: no tag, no ``<at>`` mention, no ``<a>`` link can
  come from text (and a mention needs a ``mention`` entity too, which Lore never sends);
* the inline Markdown characters (``\\ ` * _ ~ [ ]``) are backslash-escaped wherever they are,
  except the ``[n]`` citation markers Teams matches to the citation entities, and a line's
  leading block marker (``#``, ``-``, ``+``, ``1.``, ``1)``) is escaped so text cannot start a
  heading or a list (``>`` is already an entity; ``(`` needs a ``]`` before it to link);
* ``[label](url)`` is a link only for ``http(s)`` and ``mailto`` URLs, with the label escaped and
  the URL's ``(``, ``)``, spaces and ``<>`` percent-encoded; others keep only their text. A link
  to none of the answer's cited sources shows its real host after its label (bot/link_hosts.py:
  ``[Sign in](https://evil.example)`` -> "Sign in (evil.example)"), unless the label shows it. A
  bare URL stays text showing the URL itself (Teams may link it, to where it says).
* Code (inline and fenced) is written as code; a backtick inside inline code and a fence inside a
  code block are broken (``ˋ``) so they cannot close it early.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from bot.link_hosts import label_shows, real_host
from bot.markdown import (
    Block,
    Break,
    Code,
    CodeBlock,
    Heading,
    Inline,
    Paragraph,
    Quote,
    Rule,
    Styled,
    Text,
    parse,
    plain_text,
)

RULE_LINE = "──────────"
_SPECIAL = re.compile(r"([\\`*_~\[\]])")
_LINE_START = re.compile(r"(^|\n)([ \t]*)(#|-|\+|\d{1,9}(?=[.)]))", re.MULTILINE)
# A citation marker is kept only where it cannot become a link ("[1](url)", "[1][x]", "[1]: url").
_CITATION = re.compile(r"\[(\d{1,3})\](?![(\[:])")
_LINKABLE = re.compile(r"^(https?://|mailto:)", re.IGNORECASE)


def escape(text: str) -> str:
    """``text`` as Teams Markdown that shows exactly ``text`` (``[n]`` markers kept)."""
    out: list[str] = []
    last = 0
    for m in _CITATION.finditer(text):
        out.append(_escape_plain(text[last:m.start()]))
        out.append(m.group(0))
        last = m.end()
    out.append(_escape_plain(text[last:]))
    return "".join(out)


def _escape_plain(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _SPECIAL.sub(r"\\\1", text)
    return _LINE_START.sub(_escape_marker, text)


def _escape_marker(m: re.Match[str]) -> str:
    marker = m.group(3)
    if marker[0].isdigit():  # "1." -> "1\." : the digits stay, the list marker goes
        return m.group(1) + m.group(2) + marker + "\\"
    return m.group(1) + m.group(2) + "\\" + marker


def safe_url(url: str) -> str | None:
    """The URL as a Markdown link target, or None when it may not be linked."""
    url = url.strip()
    if not _LINKABLE.match(url):
        return None
    for char, code in ((" ", "%20"), ("(", "%28"), (")", "%29"), ("<", "%3C"), (">", "%3E"), ("\n", "")):
        url = url.replace(char, code)
    return url


def link(url: str, label: str) -> str:
    """A Markdown link with an already escaped ``label``, or the label alone."""
    target = safe_url(url)
    return f"[{label}]({target})" if target and label else label


def to_teams_markdown(markdown: str, cited_urls: Collection[str] = ()) -> str:
    return render_blocks(parse(markdown), cited_urls)


def render_blocks(blocks: Sequence[Block], cited_urls: Collection[str] = ()) -> str:
    return re.sub(r"\n{3,}", "\n\n", _join(blocks, 0, frozenset(cited_urls))).strip("\n")


def render_inlines(nodes: Sequence[Inline], *, links: bool = True, cited: frozenset[str] = frozenset()) -> str:
    return "".join(_inline(node, links, cited) for node in nodes)


def _disclosed(url: str, label: str, plain: str, cited: frozenset[str]) -> str:
    """``label`` with the link's real host after it, for a link to none of the cited sources."""
    found = None if url in cited else real_host(url.strip())
    if found is None:
        return label
    shown, userinfo = found
    if not userinfo and (plain == url or label_shows(plain, shown)):
        return label
    return f"{label} ({escape(shown)})"


def _inline(node: Inline, links: bool, cited: frozenset[str] = frozenset()) -> str:
    if isinstance(node, Text):
        return escape(node.text)
    if isinstance(node, Code):
        return "`" + node.code.replace("`", "ˋ").replace("\n", " ") + "`" if node.code.strip() else escape(node.code)
    if isinstance(node, Break):
        return "\n"
    if isinstance(node, Styled):
        inner = "".join(_inline(child, links, cited) for child in node.children)
        mark = {"strong": "**", "emphasis": "_", "strike": "~~"}[node.style]
        return f"{mark}{inner}{mark}" if inner.strip() else inner
    if node.kind in ("autolink", "bare"):
        return escape(node.url)
    label = render_inlines(node.children, links=False)
    if not links:
        return label
    if not label:
        return ""
    return link(node.url, _disclosed(node.url, label, plain_text(node.children), cited))


def _join(blocks: Sequence[Block], level: int, cited: frozenset[str] = frozenset()) -> str:
    out: list[str] = []
    for k, block in enumerate(blocks):
        if k:
            out.append("\n\n" if block.blank_before else "\n")
        out.append(_block(block, level, cited))
    return "".join(out)


def _block(block: Block, level: int, cited: frozenset[str] = frozenset()) -> str:
    if isinstance(block, Paragraph):
        return render_inlines(block.inlines, cited=cited)
    if isinstance(block, Heading):
        title = render_inlines(block.inlines, cited=cited).strip()
        return f"**{title}**" if title else ""
    if isinstance(block, CodeBlock):
        return "```\n" + block.code.replace("```", "ˋˋˋ") + "\n```"
    if isinstance(block, Rule):
        return RULE_LINE
    if isinstance(block, Quote):
        inner = _join(block.blocks, level, cited)
        return "\n".join(f"> {line}" if line else ">" for line in inner.split("\n"))
    out: list[str] = []
    indent = "  " * min(level, 5)
    for k, item in enumerate(block.items):
        if k:
            out.append("\n\n" if item.blank_before else "\n")
        marker = f"{item.number}." if item.number is not None else "-"
        if item.checked is not None:
            marker += " ☑" if item.checked else " ☐"
        body = _join(item.blocks, level + 1, cited)
        out.append(indent + marker + (" " + body if body else ""))
    return "".join(out)
