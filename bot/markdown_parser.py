"""markdown-it-py configured to read untrusted Markdown the way :mod:`bot.markdown` says.

CommonMark with strikethrough; no raw HTML, entities, reference definitions or setext headings;
link destinations kept as written; bare ``http(s)://`` URLs found before emphasis is read; a
nesting bound that keeps text instead of dropping it, and a tighter one for inline scanning.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt, helpers
from markdown_it.helpers.parse_link_destination import _Result
from markdown_it.rules_inline import StateInline

from core.markdown_nesting import BLOCK_NESTING, INLINE_NESTING, bounded

BARE_URL = re.compile(r"https?://[^\s<>\"'`|\[\]]+", re.IGNORECASE)
_SCHEME_AT_END = re.compile(r"https?$", re.IGNORECASE)


def trim_url(url: str) -> str:
    """A bare URL without the sentence's trailing punctuation (a ``)`` stays if it is balanced)."""
    while url and url[-1] in ".,;:!?*_~'\")":
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


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


def new_parser() -> MarkdownIt:
    """markdown-it configured as :mod:`bot.markdown` describes."""
    # Built per call (well under a millisecond): a shared instance would be mutable global state.
    return bounded(_configured(BLOCK_NESTING), _configured(INLINE_NESTING))


def _configured(nesting: int) -> MarkdownIt:
    md = _Parser("commonmark", {"html": False, "maxNesting": nesting})
    md.enable("strikethrough")
    md.disable(["reference", "lheading", "html_block", "html_inline", "entity"])
    md.inline.ruler.before("linkify", "bare_url", _bare_url)
    return md


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
