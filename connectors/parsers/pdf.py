"""PDF bytes -> one section per page, headed ``("Page N",)``, and the title from the metadata.

PDFs carry no reliable heading structure, and a page number is what lets a reader find a cited
passage again. An encrypted PDF is read only when it opens with the empty password.
"""

from __future__ import annotations

import io

from pypdf import PasswordType, PdfReader

from core.models import Section

from .parsed import Parsed, ParseError, describe, tidy


def parse_pdf(relpath: str, data: bytes) -> Parsed:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise ParseError(
                "not a readable PDF: it is encrypted with a password; save an unprotected copy"
            )
        pages = [tidy(page.extract_text() or "") for page in reader.pages]
    except ParseError:
        raise
    except Exception as exc:  # pypdf raises many unrelated types on corrupt input
        raise ParseError(f"not a readable PDF: {describe(exc)}") from exc
    sections = tuple(
        Section((f"Page {number}",), text) for number, text in enumerate(pages, 1) if text.strip()
    )
    if not sections:
        raise ParseError("no extractable text (scanned image PDF?)")
    return Parsed(_pdf_title(reader), sections)


def _pdf_title(reader: PdfReader) -> str | None:
    try:
        metadata = reader.metadata
        title = metadata.title if metadata is not None else None
    except Exception:  # noqa: BLE001 - a broken info dictionary only costs the title
        return None
    return (title.strip() or None) if isinstance(title, str) else None
