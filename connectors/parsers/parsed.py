"""What every document parser returns (:class:`Parsed`) and raises (:class:`ParseError`).

One rule: a parser's result is a title plus heading-structured sections built by
:class:`Outline`, and every failure it reports is a ParseError whose message a person can act
on. The parsers of each file type share these pieces (text decoding among them) so that they
cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.errors import DocumentUnreadable
from core.models import Section

_BOM = b"\xef\xbb\xbf"


class ParseError(DocumentUnreadable, ValueError):
    """A file whose content cannot be turned into text."""


@dataclass(frozen=True)
class Parsed:
    title: str | None
    sections: tuple[Section, ...]
    # A clause the document itself declares (Markdown front matter read by the files connector).
    acl_clause: frozenset[str] | None = None
    # Whom to ask about it, as the document declares (front matter ``owner:``, files connector).
    owner: str | None = None
    # Reserved for a source-provided modification date; files use their mtime instead.
    updated_hint: None = None


def describe(exc: BaseException) -> str:
    """An exception as a short, single-purpose message (third-party messages can be huge)."""
    message = str(exc).strip()
    if len(message) > 200:
        message = message[:200] + "..."
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def decode_utf8(data: bytes) -> str:
    """Strict UTF-8 (a leading BOM is dropped); raises UnicodeDecodeError on bad bytes.

    Guessing another encoding could silently turn a principal or a heading into mojibake, so
    the only remedy offered is to save the file as UTF-8. Offsets in the error count from the
    start of the file, BOM included, as a hex editor shows them."""
    body = data.removeprefix(_BOM)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        skipped = len(data) - len(body)
        raise UnicodeDecodeError(
            "utf-8", data, exc.start + skipped, exc.end + skipped, exc.reason
        ) from None


def utf8_problem(exc: UnicodeDecodeError) -> str:
    return f"not valid UTF-8 (first bad byte at offset {exc.start}); save it as UTF-8"


def decode_text(data: bytes) -> str:
    """Strict UTF-8 with newlines normalised to ``\\n``; ParseError names the first bad byte."""
    try:
        text = decode_utf8(data)
    except UnicodeDecodeError as exc:
        raise ParseError(utf8_problem(exc)) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def tidy(text: str) -> str:
    """Trailing spaces off, runs of blank lines down to one, NULs (PDF extraction) removed."""
    lines = [line.rstrip() for line in text.replace("\x00", "").split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip("\n")


class Outline:
    """Collects text under a stack of headings; a heading closes every deeper-or-equal one."""

    def __init__(self, joiner: str) -> None:
        self._joiner = joiner
        self._stack: list[tuple[int, str]] = []
        self._buffer: list[str] = []
        self._sections: list[Section] = []

    def heading(self, level: int, text: str) -> None:
        self._flush()
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, text))

    def add(self, text: str) -> None:
        self._buffer.append(text)

    def sections(self) -> tuple[Section, ...]:
        self._flush()
        return tuple(self._sections)

    def _flush(self) -> None:
        text = tidy(self._joiner.join(self._buffer))
        self._buffer = []
        if text.strip():
            self._sections.append(Section(tuple(h for _, h in self._stack), text))
