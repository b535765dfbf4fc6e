"""Builders for real PDF and DOCX files, made in-process so the tests need no fixtures on disk."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import docx
import pytest


def build_pdf(pages: Sequence[str], title: str | None = None) -> bytes:
    """A minimal, valid PDF with one Helvetica text line per page.

    pypdf cannot draw text, so the objects are written by hand; the xref table holds the real
    byte offsets, so strict readers accept the file too."""
    objects: list[bytes] = []
    page_ids = [4 + 2 * i for i in range(len(pages))]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{i} 0 R" for i in page_ids)
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for page_id, text in zip(page_ids, pages):
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = f"BT /F1 12 Tf 72 720 Td ({escaped}) Tj ET".encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {page_id + 1} 0 R "
            "/Resources << /Font << /F1 3 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    info_ref = ""
    if title is not None:
        objects.append(f"<< /Title ({title}) >>".encode("latin-1"))
        info_ref = f" /Info {len(objects)} 0 R"
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{info_ref} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()


def build_docx() -> bytes:
    """A DOCX with a Title, nested headings, body text and a table (one merged cell)."""
    document = docx.Document()
    document.core_properties.title = "Leave handbook"
    document.add_paragraph("Leave handbook", style="Title")
    document.add_paragraph("Intro before any heading.")
    document.add_heading("Leave", level=1)
    document.add_paragraph("Everyone gets 28 days.")
    document.add_heading("Carry-over", level=2)
    document.add_paragraph("Up to 5 days carry over to March.")
    table = document.add_table(rows=2, cols=3)
    table.cell(0, 0).text = "Country"
    table.cell(0, 1).text = "Days"
    table.cell(0, 2).text = "Notes"
    table.cell(1, 0).text = "Portugal"
    table.cell(1, 1).text = "25"
    merged = table.cell(1, 1).merge(table.cell(1, 2))
    merged.text = "25"
    document.add_heading("Sick leave", level=1)
    document.add_paragraph("Tell your manager before 10:00.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


@pytest.fixture
def make_pdf() -> Callable[..., bytes]:
    return build_pdf


@pytest.fixture
def make_docx() -> Callable[[], bytes]:
    return build_docx
