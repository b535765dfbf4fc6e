"""Confluence storage format as a tree: parsed leniently with html.parser, and the element
classes and text helpers the conversion to text shares (storage.py says what is kept).

Parsing uses BeautifulSoup's ``html.parser`` rather than an XML parser: page bodies are XML
fragments without namespace declarations and full of HTML named entities (``&nbsp;``,
``&rsquo;``) that an XML parser rejects. Nothing here raises on malformed input; whatever the
parser could read is returned.
"""

from __future__ import annotations

import html
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning
from bs4.element import CData, NavigableString, PageElement, PreformattedString, Tag
from bs4.exceptions import ParserRejectedMarkup

HEADINGS = {f"h{n}": n for n in range(1, 7)}

# Elements that end the running paragraph before and after themselves.
BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "center", "dd",
        "details", "div", "dl", "dt", "figcaption", "figure", "footer", "header", "hr", "html",
        "li", "main", "p", "section", "summary", "td", "th", "tr",
        "ac:layout", "ac:layout-section", "ac:layout-cell", "ac:rich-text-body",
        "ac:plain-text-body", "ac:task-body", "ac:adf-extension", "ac:adf-node",
        "ac:adf-content",
    }
)  # fmt: skip

# Elements whose whole subtree is dropped: configuration, pictures, editor furniture, and the
# fallback copy Confluence Cloud stores next to content it already stores as ac:adf-node.
SKIP = frozenset(
    {
        "script", "style", "head", "title", "template", "noscript", "svg", "colgroup", "col",
        "ac:parameter", "ac:default-parameter", "ac:image", "ac:emoticon", "ac:placeholder",
        "ac:task-id", "ac:task-uuid", "ac:task-status", "ac:adf-attribute", "ac:adf-fallback",
        "ac:caption",
    }
)  # fmt: skip

MACROS = ("ac:structured-macro", "ac:macro")

_CDATA = re.compile(r"<!\[CDATA\[(.*?)(?:\]\]>|\Z)", re.DOTALL)
# html.parser returns a tag it cannot read (mismatched quotes, say) as literal text; for a user
# link that text would include the account id.
LEAKED_USER = re.compile(
    r"ri:(?:account-id|userkey|username)\s*=\s*(?:\"[^\"]*\"?|'[^']*'?|[^\s>]*)", re.IGNORECASE
)
WHITESPACE = re.compile(r"\s+")
# Zero-width characters the Confluence editor leaves around inline nodes.
_INVISIBLE = str.maketrans("", "", "\u200b\u200c\u200d\u2060\ufeff")


def parse(storage: str) -> BeautifulSoup:
    """One page body as a tree; never raises (see the module docstring)."""
    text = storage.replace("\r\n", "\n").replace("\r", "\n")
    # CDATA becomes escaped text before parsing: what html.parser makes of CDATA differs between
    # Python releases (a CDATA node, or a bogus comment that ends at the first ">"), and code
    # bodies must survive untouched. An unterminated section runs to the end of the body.
    text = _CDATA.sub(lambda m: html.escape(m.group(1), quote=False), text)
    text = _drop_cut_off_tag(text)
    with warnings.catch_warnings():
        # A short body can look like a file name or URL, or start with an XML declaration.
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        try:
            return BeautifulSoup(text, "html.parser")
        except ParserRejectedMarkup:
            pass
        # html.parser gives up on some malformed "<!" declarations; read those as text.
        try:
            return BeautifulSoup(text.replace("<!", "&lt;!"), "html.parser")
        except ParserRejectedMarkup:
            # Last resort: the words without any markup (and so without any attribute values).
            return BeautifulSoup(html.escape(re.sub(r"<[^>]*>?", " ", text)), "html.parser")


def _drop_cut_off_tag(text: str) -> str:
    """A tag cut off by the end of the body would come back as text, attributes and all."""
    last = text.rfind("<")
    if last >= 0 and ">" not in text[last:] and re.match(r"<[A-Za-z/!?]", text[last:]):
        return text[:last]
    return text


def attr(tag: Tag, name: str) -> str:
    value = tag.get(name)
    if value is None:
        return ""
    return value if isinstance(value, str) else " ".join(value)


def one_line(text: str) -> str:
    return WHITESPACE.sub(" ", text.translate(_INVISIBLE)).strip()


def clean(text: str) -> str:
    """Collapse spaces on each line, keep line breaks, allow at most one blank line in a row."""
    out: list[str] = []
    for raw in text.translate(_INVISIBLE).split("\n"):
        line = WHITESPACE.sub(" ", raw).strip()
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip("\n")


def own(node: Tag, names: Iterable[str], stop: Iterable[str] = MACROS) -> Iterator[Tag]:
    """Descendants named ``names``, not looking inside a match or inside a ``stop`` element.

    Finds a macro's own body and parameters but not those of macros nested in it, even when a
    malformed body (an unclosed parameter) has pushed them below where they belong.
    """
    wanted, stopping = frozenset(names), frozenset(stop)
    pending = [c for c in reversed(node.contents) if isinstance(c, Tag)]
    while pending:
        tag = pending.pop()
        if tag.name in wanted:
            yield tag
        elif tag.name not in stopping:
            pending.extend(c for c in reversed(tag.contents) if isinstance(c, Tag))


def flat_text(node: Tag) -> str:
    """Text of a subtree without recursion, still leaving out the skipped elements."""
    parts: list[str] = []
    pending: list[PageElement] = list(reversed(node.contents))
    while pending:
        item = pending.pop()
        if isinstance(item, Tag):
            if item.name not in SKIP:
                pending.extend(reversed(item.contents))
        elif is_text(item):
            parts.append(str(item))
    return LEAKED_USER.sub(" ", " ".join(parts))


def is_text(node: PageElement) -> bool:
    # Comments, declarations and processing instructions are markup; CDATA is content.
    return isinstance(node, NavigableString) and (
        isinstance(node, CData) or not isinstance(node, PreformattedString)
    )


# What the walk of a tree yields, in order: headings and blocks of text.


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Block:
    text: str
    # "list" blocks carry their own indentation and "code" blocks are verbatim: a list item
    # that contains them must not re-indent or re-flow their lines.
    kind: Literal["text", "list", "code"] = "text"
