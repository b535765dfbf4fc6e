"""PPTX and XLSX files built in the tests with python-pptx and openpyxl, and hostile variants
of them: the same package with one part swapped for raw entries (tests.security.zip_builder),
so that a part can be huge, lie about its size or nest deeply without the bytes ever existing.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import openpyxl
import pptx
from pptx.util import Inches

from tests.security import zip_builder as zb


def deck() -> bytes:
    """Three slides: a titled one with body text, a table and notes; an untitled one with a
    group holding a text box and a nested group; a hidden one."""
    presentation = pptx.Presentation()
    presentation.core_properties.title = "Leave handbook"
    first = presentation.slides.add_slide(presentation.slide_layouts[1])
    first.shapes.title.text = "Annual leave"
    first.placeholders[1].text = "Everyone gets 28 days\nUp to 5 days carry over"
    table = first.shapes.add_table(2, 3, Inches(1), Inches(5), Inches(6), Inches(1)).table
    for r, row in enumerate([("Grade", "Days", "Carry"), ("A", "28", "5")]):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    first.notes_slide.notes_text_frame.text = "Mention the HR tool"
    second = presentation.slides.add_slide(presentation.slide_layouts[6])
    group = second.shapes.add_group_shape()
    group.shapes.add_textbox(0, 0, Inches(2), Inches(1)).text_frame.text = "Sick leave: call by 10"
    inner = group.shapes.add_group_shape()
    inner.shapes.add_textbox(0, Inches(2), Inches(2), Inches(1)).text_frame.text = "Nested note"
    hidden = presentation.slides.add_slide(presentation.slide_layouts[1])
    hidden.shapes.title.text = "Draft: redundancy plan"
    hidden.placeholders[1].text = "Not for staff yet"
    hidden.element.set("show", "0")
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()


def workbook() -> bytes:
    """A 'Staff' sheet with a header, an empty row and an empty column, a formula; a hidden
    'Salaries' sheet; a 'Numbers' sheet without a header."""
    book = openpyxl.Workbook()
    book.properties.title = "Staff list"
    staff = book.active
    staff.title = "Staff"
    staff.append(["Name", "Team", None, "Days"])
    staff.append(["Ana", "HR", None, 28])
    staff.append([])
    staff.append(["Bo", "Eng", None, 25.5])
    staff["E2"] = "=D2+1"  # openpyxl saves no cached value: data_only reads it empty
    hidden = book.create_sheet("Salaries")
    hidden.append(["Ana", 99000])
    hidden.sheet_state = "hidden"
    numbers = book.create_sheet("Numbers")
    numbers.append([1, 2])
    numbers.append([3, 4])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def with_part(tmp_path: Path, package: bytes, entry: zb.RawEntry) -> bytes:
    """``package`` with the part ``entry`` names replaced by ``entry`` (added if absent)."""
    with zipfile.ZipFile(io.BytesIO(package)) as source:
        entries = [
            zb.deflated(name, source.read(name)) for name in source.namelist() if name != entry.name
        ]
    path = tmp_path / "package.zip"
    zb.write_zip(path, [*entries, entry])
    return path.read_bytes()


def part(package: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(package)) as source:
        return source.read(name)


SHEET_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    b"<sheetData>"
)
SHEET_TAIL = b"</sheetData></worksheet>"


def sheet_row(*values: str) -> bytes:
    cells = "".join(f'<c t="inlineStr"><is><t>{value}</t></is></c>' for value in values)
    return f"<row>{cells}</row>".encode()
