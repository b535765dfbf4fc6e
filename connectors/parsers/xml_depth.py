"""How deep XML nests, estimated while it streams past in chunks, for the OOXML pre-check.

One rule: the gauge reads the depth after each chunk (start tags minus end tags so far,
self-closing ones excluded); the nesting inside one chunk is not followed, so XML can nest at
most a chunk's worth (64 KB holds about 20,000 ``<a>`` tags) beyond the cap unseen, which costs
a parser nothing. Counting runs in C over the whole chunk: no Python per tag.

It is meant for parts a parser streams with a parser that has no depth limit of its own
(openpyxl reads worksheets with the standard library's expat, which nests as deep as memory
allows; lxml, which python-docx, python-pptx and openpyxl use elsewhere, stops at 256 levels).
Comments and CDATA sections could hide tags from the count, and no spreadsheet writer puts
them in a worksheet, so :meth:`feed` reports them instead of guessing.
"""

from __future__ import annotations

import re

# A whole self-closing tag: no '<', '>' or '/' outside its quoted attribute values (XML quotes
# every attribute value, so a bare '/' in a tag only ever ends it). Possessive, so
# that a tag that is not self-closing fails at once instead of backtracking.
_EMPTY = re.compile(rb"""<[A-Za-z_][^<>"'/]*+(?:(?:"[^"]*+"|'[^']*+')[^<>"'/]*+)*+/>""")
_HIDING = re.compile(rb"<!(?:--|\[CDATA\[)")
# A self-closing tag longer than this that straddles two chunks counts as opened: the estimate
# errs towards deeper. Office's longest tags are a few hundred bytes.
_KEEP = 4096


class DepthGauge:
    """Feed one part's chunks in order; start_part() before the next part."""

    def __init__(self) -> None:
        self.depth = 0
        self._tail = b""

    def start_part(self) -> None:
        self.depth = 0
        self._tail = b""

    def feed(self, chunk: bytes) -> int | None:
        """The depth after ``chunk``; None if the XML holds a comment or a CDATA section."""
        window = self._tail + chunk
        if _HIDING.search(window):
            return None
        # Without comments or CDATA, every '<' starts a tag, an end tag ("</") or a processing
        # instruction ("<?"); bytes.count is far cheaper than a regex per tag. No two matches
        # overlap, so those lying wholly in the old tail are exactly the ones counted already.
        tags = _delta(window, self._tail, b"<") - _delta(window, self._tail, b"<?")
        ends = _delta(window, self._tail, b"</")
        empty = len(_EMPTY.findall(window)) - len(_EMPTY.findall(self._tail))
        self.depth += tags - 2 * ends - empty
        self._tail = window[-_KEEP:]
        return self.depth


def _delta(window: bytes, tail: bytes, token: bytes) -> int:
    return window.count(token) - tail.count(token)
