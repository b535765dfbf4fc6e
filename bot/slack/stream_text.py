"""The preview of an answer that Lore streams into a Slack message (``markdown_text`` of
chat.startStream / chat.appendStream), rendered from :mod:`bot.markdown`'s tree.

The preview is replaced by the final answer (:mod:`bot.slack.render`) once it is complete, so
it only has to be readable, safe and append-only:

* No URL: a link shows its label and, as in the final answer (:mod:`bot.slack.link_hosts`),
  its real host in parentheses unless the label names exactly that host (a mailto link: the
  address; a URL with userinfo: always), never a target; a URL left in text or code gets a WORD
  JOINER after its scheme (a ``www.`` address, which Markdown renderers link too, after its
  ``www``). Until the final answer has checked links against the citations there is nothing to
  follow and nothing for Slack to fetch or preview.
* Nothing can notify or format by accident: Markdown punctuation in text is backslash-escaped, a
  ``<`` before ``!``, ``@`` or ``#`` gets a WORD JOINER, and ``@channel``/``@here``/``@everyone``
  words get one after the ``@`` (as in mrkdwn).
* Append-only, as Slack's streaming is: :func:`preview` renders only what cannot change as more
  text arrives (complete lines; in the last line, words up to where its emphasis, code and
  brackets balance; nothing of a code fence still open), and :func:`addition` says what to append
  to what was shown, or None when what was shown would now render differently.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.link_hosts import label_shows, real_host
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
    plain_text,
)
from bot.slack.escaping import WORD_JOINER

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_PUNCTUATION = re.compile(r"([\\`*_{}\[\]<>#|~&!])")
_LINE_START = re.compile(r"^(?:([-+=])|(\d+)([.)]))", re.MULTILINE)
_BROADCAST = re.compile(r"(?<!\w)@(?=(?:channel|here|everyone|group)\b)", re.IGNORECASE)
_BACKTICKS = re.compile(r"`+")
_SCHEME = re.compile(r"(?i)(https?|mailto)(:)|(www)(\.)")  # anywhere, even inside a word
_SLACK_TAG = re.compile(r"<(?=[!@#])")
# A line start that is only block markers so far: what it opens is not known yet.
_MARKERS_ONLY = re.compile(r"\s*(?:(?:[-+*>]|#{1,6}|\d+[.)]|\[[ xX]\])\s*)*")


def preview(markdown: str) -> str:
    """The part of ``markdown`` that may be streamed, rendered (see the module docstring)."""
    return render(parse(stable_part(markdown)))


def addition(shown: str, rendered: str) -> str | None:
    """What to append to ``shown`` to show ``rendered``; None if ``shown`` is not its start."""
    return rendered[len(shown) :] if rendered.startswith(shown) else None


def stable_part(markdown: str) -> str:
    """Complete lines (none from an open code fence on), then the balanced words of the last."""
    lines = markdown.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    fence_at: int | None = None
    fence = ""
    for k, line in enumerate(lines[:-1]):
        found = _FENCE.match(line)
        if fence_at is None and found:
            fence_at, fence = k, found.group(1)
        elif fence_at is not None and line.strip().startswith(fence[0] * len(fence)) and (
            set(line.strip()) == {fence[0]}
        ):
            fence_at = None
    if fence_at is not None:
        return "\n".join(lines[:fence_at])
    last = lines[-1]
    if _FENCE.match(last):
        last = ""
    head = "\n".join(lines[:-1])
    return (head + "\n" if len(lines) > 1 else "") + _balanced_words(last)


def _balanced_words(line: str) -> str:
    counts = {"`": 0, "*": 0, "_": 0, "~": 0}
    brackets = parens = 0
    cut = 0
    for k, ch in enumerate(line):
        if ch in counts:  # runs, not characters: "**" opens once
            counts[ch] += 0 if k and line[k - 1] == ch else 1
        elif ch == "[":
            brackets += 1
        elif ch == "]":
            brackets -= 1
        elif ch == "(":
            parens += 1
        elif ch == ")":
            parens -= 1
        elif ch.isspace() and brackets == parens == 0 and all(n % 2 == 0 for n in counts.values()):
            cut = k
    words = line[:cut].rstrip()
    return "" if _MARKERS_ONLY.fullmatch(words) else words


def render(blocks: Sequence[Block]) -> str:
    return _join(blocks, "", quoted=False)


def _join(blocks: Sequence[Block], indent: str, *, quoted: bool) -> str:
    out: list[str] = []
    for k, block in enumerate(blocks):
        if k:
            out.append("\n\n" if block.blank_before else "\n")
        out.append(_block(block, indent, quoted=quoted))
    return "".join(out)


def _block(block: Block, indent: str, *, quoted: bool) -> str:
    if isinstance(block, Paragraph):
        return _text_lines(block.inlines, indent)
    if isinstance(block, Heading):
        title = _inlines(block.inlines, strong=False)
        return f"**{title}**" if title else ""
    if isinstance(block, CodeBlock):
        fence = "`" * max(3, _longest_run(block.code) + 1)
        return ("\n" + indent).join([fence, *_defang(block.code).split("\n"), fence])
    if isinstance(block, Rule):
        return "---"
    if isinstance(block, Quote):
        inner = _join(block.blocks, "", quoted=True)
        return inner if quoted else "\n".join(f"> {line}" if line else ">" for line in inner.split("\n"))
    return _list(block, indent, quoted=quoted)


def _list(block: ListBlock, indent: str, *, quoted: bool) -> str:
    out: list[str] = []
    for k, item in enumerate(block.items):
        if k:
            out.append("\n\n" if item.blank_before else "\n")
        marker = f"{item.number}." if item.number is not None else "-"
        task = "" if item.checked is None else ("☑ " if item.checked else "☐ ")
        inner = indent + " " * (len(marker) + 1)
        body = _join(item.blocks, inner, quoted=quoted)
        out.append(f"{indent}{marker} {task}{body.removeprefix(inner)}")
    return "".join(out)


def _text_lines(inlines: Sequence[Inline], indent: str) -> str:
    text = _inlines(inlines, strong=True)
    # A line of text must not become a list item or a rule.
    text = _LINE_START.sub(lambda m: "\\" + m.group(1) if m.group(1) else m.group(2) + "\\" + m.group(3), text)
    return text.replace("\n", "\n" + indent) if indent else text


def _inlines(nodes: Sequence[Inline], *, strong: bool) -> str:
    return "".join(_inline(node, strong) for node in nodes)


def _inline(node: Inline, strong: bool) -> str:
    if isinstance(node, Text):
        return _escape(node.text)
    if isinstance(node, Code):
        fence = "`" * (_longest_run(node.code) + 1)
        pad = " " if node.code.startswith("`") or node.code.endswith("`") else ""
        return f"{fence}{pad}{_defang(node.code)}{pad}{fence}"
    if isinstance(node, Break):
        return "\n"
    if isinstance(node, Styled):
        inner = _inlines(node.children, strong=strong)
        if node.style == "strike":
            return f"~~{inner}~~"
        if node.style == "emphasis":
            return f"_{inner}_"
        return f"**{inner}**" if strong else inner
    label = _inlines(node.children, strong=strong) if node.kind in ("link", "image") else ""
    found = real_host(node.url)
    host, userinfo = found if found else ("", False)
    if not label:
        return _escape(host)
    # As in the final answer (bot.slack.link_hosts): unless the label names exactly that host,
    # and always for a URL with userinfo.
    named = not userinfo and label_shows(plain_text(node.children), host)
    return label if not host or named else f"{label} ({_escape(host)})"


def _escape(text: str) -> str:
    text = _PUNCTUATION.sub(r"\\\1", _defang(text))  # a URL the parser left as text: defanged too
    return _BROADCAST.sub("@" + WORD_JOINER, text)


def _defang(text: str) -> str:
    """No URL scheme and no ``<!``/``<@``/``<#`` left whole, even where no escaping applies."""
    text = _SCHEME.sub(lambda m: (m.group(1) or m.group(3)) + WORD_JOINER + (m.group(2) or m.group(4)), text)
    return _SLACK_TAG.sub("<" + WORD_JOINER, text)


def _longest_run(code: str) -> int:
    return max((len(run) for run in _BACKTICKS.findall(code)), default=0)
