"""Plain text bytes -> one section without a title (UTF-8 only; see parsed.decode_text)."""

from __future__ import annotations

from core.models import Section

from .parsed import Parsed, decode_text, tidy


def parse_text(relpath: str, data: bytes) -> Parsed:
    text = tidy(decode_text(data))
    return Parsed(None, (Section((), text),) if text.strip() else ())
