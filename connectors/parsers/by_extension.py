"""One table: file extension -> parser function, and :func:`parse_document`, which looks a
file up in it. A new format is a module with its parser plus one line here.

Every failure surfaces as :class:`~connectors.parsers.parsed.ParseError` (or as the caller's
own source error, such as the files connector's RuleError for bad front matter), so a broken
file becomes one ``Failed`` item instead of ending a sync.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import PurePosixPath
from types import MappingProxyType

from connectors.errors import SourceError

from .docx import parse_docx
from .html import parse_html
from .markdown import parse_markdown
from .parsed import Parsed, ParseError, describe
from .pdf import parse_pdf
from .pptx import parse_pptx
from .text import parse_text
from .xlsx import parse_xlsx

__all__ = ["PARSERS", "SUPPORTED_SUFFIXES", "Parser", "parse_document"]

Parser = Callable[[str, bytes], Parsed]

PARSERS: Mapping[str, Parser] = MappingProxyType(
    {
        ".md": parse_markdown,
        ".markdown": parse_markdown,
        ".txt": parse_text,
        ".html": parse_html,
        ".htm": parse_html,
        ".pdf": parse_pdf,
        ".docx": parse_docx,
        ".pptx": parse_pptx,
        ".xlsx": parse_xlsx,
    }
)

SUPPORTED_SUFFIXES = frozenset(PARSERS)


def parse_document(relpath: str, data: bytes, parsers: Mapping[str, Parser] = PARSERS) -> Parsed:
    """Parse one file by its extension, with the parser ``parsers`` names for it. ``relpath``
    names the file in error messages.

    Raises ParseError for unreadable content; a parser's own source errors pass unchanged."""
    suffix = PurePosixPath(relpath).suffix.lower()
    parser = parsers.get(suffix)
    if parser is None:
        raise ParseError(f"unsupported file type {suffix or '(none)'!r}")
    try:
        return parser(relpath, data)
    except SourceError:
        raise
    except Exception as exc:  # third-party parsers raise anything; never crash a scan
        raise ParseError(f"could not parse {suffix} file: {describe(exc)}") from exc
