"""How the files connector parses a file: the shared document parsers (connectors.parsers),
except that a Markdown file's front matter is read for its title, its own access rule and its
owner.

:func:`parse_file` is what the connector's parse sandbox runs (it is importable by name, as
the sandbox's worker process needs). The permission job reads the same front matter without
the body (front_matter.py); both split it with :func:`~.front_matter.split_front_matter`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from connectors.parsers.by_extension import PARSERS, Parser, parse_document
from connectors.parsers.markdown import markdown_document
from connectors.parsers.parsed import Parsed, decode_text

from .front_matter import split_front_matter

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})


def parse_markdown_file(relpath: str, data: bytes) -> Parsed:
    """Front matter (title, ``acl:``, ``owner:``), then the body. Raises ParseError for text
    that is not UTF-8 and RuleError for invalid front matter."""
    front, lines = split_front_matter(relpath, decode_text(data))
    return markdown_document(lines, title=front.title, acl_clause=front.acl_clause, owner=front.owner)


FILE_PARSERS: Mapping[str, Parser] = MappingProxyType(
    {**PARSERS, **{suffix: parse_markdown_file for suffix in MARKDOWN_SUFFIXES}}
)


def parse_file(relpath: str, data: bytes) -> Parsed:
    """Parse one file of the tree by its extension; raises ParseError or RuleError."""
    return parse_document(relpath, data, FILE_PARSERS)
