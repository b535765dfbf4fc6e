"""XLSX bytes -> one section per visible worksheet, rows as ``a | b | c`` lines.

The package is checked against :data:`~connectors.parsers.ooxml_limits.XLSX_LIMITS` first.
openpyxl opens it with ``read_only=True`` (worksheets are streamed row by row, never held
whole) and ``data_only=True``: a formula cell gives the value Excel cached when it last saved
the file, and no formula is ever evaluated; a cell whose value was never cached reads empty.

- Hidden and very hidden sheets are skipped; chart sheets hold no cells.
- Empty rows and empty columns are dropped.
- The first non-empty row is taken as the header when it looks like one (two or more cells,
  all text, and more rows follow); it heads every block of rows, so that each section, and so
  each chunk cut from it, still says what its columns are.
- A workbook-wide budget (rows kept, cells kept, characters, rows scanned) bounds time and
  memory whatever the sheet's size: at the first budget spent, reading stops, a note saying
  where and why ends that sheet's text, and the document is indexed up to there.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from openpyxl.reader.excel import ExcelReader
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

from .ooxml_limits import XLSX_LIMITS, check_package
from .parsed import Outline, Parsed, ParseError, describe

# Output stays well under files.max_text_chars' default (5,000,000), which would refuse the
# whole file rather than index what fits.
MAX_ROWS = 50_000
MAX_CELLS = 500_000
MAX_CHARS = 2_000_000
# What openpyxl yields, empty rows and cells included (a sheet may hold styled empty rows down
# to row 1,048,576): openpyxl streams 15,000-50,000 rows a second, so this keeps a sheet's
# reading well inside files.parse_timeout_seconds' default of 30 s.
MAX_SCANNED_ROWS = 200_000
MAX_SCANNED_CELLS = 2_000_000
ROWS_PER_SECTION = 50


@dataclass
class _Budget:
    rows: int = 0
    cells: int = 0
    chars: int = 0
    scanned: int = 0
    scanned_cells: int = 0

    def spent(self) -> str | None:
        if self.rows >= MAX_ROWS:
            return f"{MAX_ROWS:,} rows"
        if self.cells >= MAX_CELLS:
            return f"{MAX_CELLS:,} cells"
        if self.chars >= MAX_CHARS:
            return f"{MAX_CHARS:,} characters"
        if self.scanned >= MAX_SCANNED_ROWS:
            return f"{MAX_SCANNED_ROWS:,} rows read"
        if self.scanned_cells >= MAX_SCANNED_CELLS:
            return f"{MAX_SCANNED_CELLS:,} cells read"
        return None


def parse_xlsx(relpath: str, data: bytes) -> Parsed:
    check_package(data, XLSX_LIMITS)
    try:
        reader = _VisibleSheetsReader(
            io.BytesIO(data), read_only=True, data_only=True, keep_links=False
        )
        reader.read()
        workbook = reader.wb
    except Exception as exc:  # openpyxl/zipfile/lxml raise many types on corrupt input
        raise ParseError(f"not a readable XLSX: {describe(exc)}") from exc
    try:
        title = (workbook.properties.title or "").strip() or None
        outline = Outline("\n")
        budget = _Budget()
        for sheet in workbook.worksheets:
            if sheet.sheet_state != "visible":
                continue
            if budget.spent():
                break
            _add_sheet(outline, sheet, budget)
        return Parsed(title, outline.sections())
    except ParseError:
        raise
    except Exception as exc:
        raise ParseError(f"not a readable XLSX: {describe(exc)}") from exc
    finally:
        workbook.close()  # read-only workbooks keep the archive open until closed


class _UnsizedSheet(ReadOnlyWorksheet):  # type: ignore[misc]
    """A read-only worksheet that skips openpyxl's look for the ``<dimension>`` element at
    load: in a sheet without one (Excel writes it; some generators do not) that look parses
    the whole sheet before the first row is read, 20 s for a million rows, outside any budget
    here. The parser reads rows as they come (``reset_dimensions``), so the size is unused."""

    def _get_size(self) -> None:
        pass


class _VisibleSheetsReader(ExcelReader):  # type: ignore[misc]
    """openpyxl's reader (what ``load_workbook`` runs, read-only), making _UnsizedSheets of the
    visible worksheets only: hidden ones and chart sheets are never opened. Written against
    openpyxl 3.1's ``ExcelReader.read_worksheets``; a test fails if a release changes it."""

    def read_worksheets(self) -> None:
        for sheet, rel in self.parser.find_sheets():
            if rel.target not in self.valid_files or "chartsheet" in rel.Type:
                continue
            if (sheet.state or "visible") != "visible":
                continue
            worksheet = _UnsizedSheet(self.wb, sheet.name, rel.target, self.shared_strings)
            self.wb._sheets.append(worksheet)


def _add_sheet(outline: Outline, sheet: Any, budget: _Budget) -> None:
    name = " ".join(str(sheet.title).split())
    rows, stopped = _read_rows(sheet, budget)
    columns = sorted({index for row in rows for index in row})
    lines = [" | ".join(row[i] for i in columns if i in row) for row in rows]
    header: str | None = None
    if len(lines) > 1 and _looks_like_header(rows[0]):
        header = lines.pop(0)
    for start in range(0, max(len(lines), 1), ROWS_PER_SECTION):
        outline.heading(1, name)
        if header is not None:
            outline.add(header)
        for line in lines[start : start + ROWS_PER_SECTION]:
            outline.add(line)
    if stopped is not None:
        outline.add(stopped)


def _read_rows(sheet: Any, budget: _Budget) -> tuple[list[dict[int, str]], str | None]:
    """The sheet's non-empty rows as {column index: text}, and the note if a budget ran out."""
    sheet.reset_dimensions()  # rows as the XML holds them, not padded to a declared size
    rows: list[dict[int, str]] = []
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        spent = budget.spent()
        if spent is not None:
            return rows, (
                f"[Reading stopped at row {number:,} of sheet {sheet.title!r}: the workbook "
                f"reached the parser's budget of {spent}; later rows and sheets are not indexed.]"
            )
        budget.scanned += 1
        budget.scanned_cells += len(values)
        cells = dict(_cells(values))
        if cells:
            rows.append(cells)
            budget.rows += 1
            budget.cells += len(cells)
            budget.chars += sum(len(text) + 3 for text in cells.values())
    return rows, None


def _cells(values: tuple[Any, ...]) -> Iterator[tuple[int, str]]:
    for index, value in enumerate(values):
        text = _text(value)
        if text:
            yield index, text


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return " ".join(str(value).split())


def _looks_like_header(row: dict[int, str]) -> bool:
    return len(row) >= 2 and all(not _numeric(text) for text in row.values())


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
