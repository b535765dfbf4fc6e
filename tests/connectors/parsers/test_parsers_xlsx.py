"""Sheets: visible ones only, cached values, header rows, empty rows and columns dropped, and
the workbook-wide budget that stops a huge sheet with a note instead of failing the file."""

from __future__ import annotations

import io
import time
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from connectors.parsers import xlsx
from connectors.parsers.by_extension import parse_document
from connectors.parsers.parsed import ParseError
from core.models import Section
from tests.connectors.parsers import office_files
from tests.security import zip_builder as zb


def _book(*sheets: tuple[str, list[list[object]]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets:
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_visible_sheets_with_header_rows_and_no_empty_rows_or_columns() -> None:
    parsed = parse_document("staff.xlsx", office_files.workbook())
    assert parsed.title == "Staff list"
    assert parsed.sections == (
        # The formula in E2 has no cached value (openpyxl saved it), so it reads empty: formulas
        # are never evaluated. The hidden "Salaries" sheet is not read at all.
        Section(("Staff",), "Name | Team | Days\nAna | HR | 28\nBo | Eng | 25.5"),
        Section(("Numbers",), "1 | 2\n3 | 4"),  # numbers: no header
    )


def test_cached_formula_values_are_read(tmp_path: Path) -> None:
    # Excel stores a formula's last result in <v> next to <f>; data_only reads that value.
    sheet = (
        office_files.SHEET_HEAD
        + b'<row r="1"><c r="A1"><v>2</v></c><c r="B1"><f>A1*21</f><v>42</v></c></row>'
        + office_files.SHEET_TAIL
    )
    data = office_files.with_part(
        tmp_path,
        _book(("Calc", [[1]])),
        zb.deflated("xl/worksheets/sheet1.xml", sheet),
    )
    assert parse_document("calc.xlsx", data).sections == (Section(("Calc",), "2 | 42"),)


def test_values_are_written_as_people_read_them() -> None:
    rows: list[list[object]] = [
        ["When", "Done", "Ratio", "Count"],
        [datetime(2026, 3, 1), True, 0.25, 3.0],
        [datetime(2026, 3, 1, 9, 30), False, 1e20, date(2026, 4, 2)],
        ["  spaced \n text  ", None, None, None],
    ]
    assert parse_document("v.xlsx", _book(("Log", rows))).sections == (
        Section(
            ("Log",),
            "When | Done | Ratio | Count\n2026-03-01 | TRUE | 0.25 | 3\n"
            "2026-03-01 09:30:00 | FALSE | 1e+20 | 2026-04-02\nspaced text",
        ),
    )


def test_long_sheets_repeat_the_header_in_every_section() -> None:
    rows: list[list[object]] = [["Name", "Team"]]
    rows += [[f"person {i}", "Ops"] for i in range(xlsx.ROWS_PER_SECTION + 1)]
    sections = parse_document("long.xlsx", _book(("People", rows))).sections
    assert [s.heading_path for s in sections] == [("People",), ("People",)]
    assert all(s.text.startswith("Name | Team\n") for s in sections)
    assert sections[1].text == f"Name | Team\nperson {xlsx.ROWS_PER_SECTION} | Ops"


def test_a_sheet_of_a_million_rows_is_read_up_to_the_budget_with_a_note(tmp_path: Path) -> None:
    # 1,048,576 rows (Excel's maximum), 43 MB of sheet XML in a 3 MB file: one block of 1,024
    # distinct rows (so that it compresses as real sheets do), deflated once and repeated.
    block = b"".join(
        office_files.sheet_row(f"{n}", f"{n * 7919 % 10007} days") for n in range(1024)
    )
    entry = zb.bomb(
        "xl/worksheets/sheet1.xml", office_files.SHEET_HEAD, block, 1024, office_files.SHEET_TAIL
    )
    data = office_files.with_part(tmp_path, _book(("Big", [["x"]])), entry)
    started = time.perf_counter()
    parsed = parse_document("big.xlsx", data)
    seconds = time.perf_counter() - started
    lines = [line for s in parsed.sections for line in s.text.split("\n")]
    assert lines[-1] == (
        f"[Reading stopped at row {xlsx.MAX_ROWS + 1:,} of sheet 'Big': the workbook reached "
        f"the parser's budget of {xlsx.MAX_ROWS:,} rows; later rows and sheets are not indexed.]"
    )
    assert len(lines) == xlsx.MAX_ROWS + 1
    assert lines[1024] == "0 | 0 days"  # the second block: rows are read in order
    assert seconds < 20, seconds  # the sandbox's default budget is 30 s


def test_empty_rows_count_against_the_rows_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xlsx, "MAX_SCANNED_ROWS", 10)
    rows: list[list[object]] = [["a"]] + [[None]] * 20 + [["late"]]
    (section,) = parse_document("gap.xlsx", _book(("Gaps", rows), ("Next", [["b"]]))).sections
    assert section.text.startswith("a\n[Reading stopped at row 11 of sheet 'Gaps'")
    assert "10 rows read" in section.text


@pytest.mark.parametrize("data", [b"", b"PK\x03\x04garbage", b"not a zip at all"])
def test_corrupt_xlsx(data: bytes) -> None:
    with pytest.raises(ParseError, match=r"^not a readable XLSX: "):
        parse_document("broken.xlsx", data)
