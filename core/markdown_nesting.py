"""Bounds for reading untrusted Markdown with markdown-it-py, shared by the document parser
(connectors.parsers.markdown) and the answer renderer (bot.markdown_parser).

markdown-it-py drops the whole rest of a document, silently, once block quotes or lists nest
deeper than its ``maxNesting``; :func:`flatten_deep`, a block rule, reads such deep lines as
plain paragraphs instead, so no text after them goes missing. Inline scanning gets a tighter
bound: a link label costs up to that many steps per character (``[[[[...``).
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.rules_core import StateCore

BLOCK_NESTING = 20  # the CommonMark preset's own bound on recursion
# A list item opens two levels (list + item) before its content is parsed one level deeper, so
# containers must stop two levels short of the bound for the rest to be parsed at all.
DEEPEST_CONTAINER = BLOCK_NESTING - 2
# Real text nests an image in a link, perhaps a bracket in a label, no deeper (10 us per
# character of `[[[[...` at 20).
INLINE_NESTING = 8


def flatten_deep(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """Below the deepest container level, each line is one plain paragraph."""
    if state.level < DEEPEST_CONTAINER:
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


def bounded(block: MarkdownIt, inline: MarkdownIt) -> MarkdownIt:
    """``block`` (built with ``maxNesting`` :data:`BLOCK_NESTING`) with :func:`flatten_deep`, and
    its inline content parsed by ``inline`` (built with :data:`INLINE_NESTING`) instead."""
    block.block.ruler.before("table", "flatten_deep", flatten_deep)

    def parse_inlines(state: StateCore) -> None:
        # markdown-it's own core rule, with the inline parser's tighter nesting bound.
        for token in state.tokens:
            if token.type == "inline":
                token.children = inline.inline.parse(token.content, inline, state.env, [])

    block.core.ruler.at("inline", parse_inlines)
    return block
