"""Hostile PPTX and XLSX files: zip bombs, lying zip headers, deep XML. Each is refused with
the cap it broke, quickly and in little memory, before python-pptx or openpyxl sees it (or, for
XML nested too deep where lxml loads it whole, by lxml's own limit); and both formats parse in
the sandboxed worker as they do in-process."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from connectors.parsers.by_extension import parse_document
from connectors.parsers.parsed import ParseError
from connectors.parsers.sandbox import ParserSandbox
from connectors.parsers.xml_depth import DepthGauge
from core.config import FilesConfig
from tests.connectors.parsers import office_files
from tests.security import zip_builder as zb

_MB = 1024 * 1024
_SLIDE_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<p:sld xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
    b'xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main">'
    b"<p:cSld><p:spTree><p:sp><p:txBody>"
)
_SLIDE_TAIL = b"</p:txBody></p:sp></p:spTree></p:cSld></p:sld>"
_LINE = b"<a:p><a:r><a:t>Leave policy: twenty-eight days a year.</a:t></a:r></a:p>"
_LINES = _LINE * (_MB // len(_LINE))


def _refusal(name: str, data: bytes) -> tuple[str, float, int]:
    """The ParseError's message, the seconds it took and the peak of traced memory."""
    start = time.perf_counter()
    with pytest.raises(ParseError) as info:
        parse_document(name, data)
    seconds = time.perf_counter() - start
    tracemalloc.start()  # a second, untimed run: tracing slows allocation down
    try:
        with pytest.raises(ParseError):
            parse_document(name, data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return str(info.value), seconds, peak


def _slide_bomb(tmp_path: Path, declared_size: int | None = None) -> bytes:
    entry = zb.bomb("ppt/slides/slide1.xml", _SLIDE_HEAD, _LINES, 190, _SLIDE_TAIL, declared_size)
    return office_files.with_part(tmp_path, office_files.deck(), entry)


def test_a_pptx_bomb_is_refused_by_its_declared_size(tmp_path: Path) -> None:
    data = _slide_bomb(tmp_path)
    assert len(data) < 2 * _MB  # 190 MB of slide XML inside
    message, seconds, peak = _refusal("deck.pptx", data)
    assert message == (
        "ppt/slides/slide1.xml declares 190.0 MB of XML (cap per XML part: 32.0 MB); "
        "the PPTX is not indexed"
    )
    assert seconds < 2.0 and peak < 4 * _MB


def test_a_pptx_bomb_lying_about_its_size_is_caught_while_inflating(tmp_path: Path) -> None:
    message, seconds, peak = _refusal("deck.pptx", _slide_bomb(tmp_path, declared_size=1000))
    assert message == ("its XML holds more than 250,000 paragraphs (cap); the PPTX is not indexed")
    assert seconds < 2.0 and peak < 4 * _MB


def test_an_xlsx_bomb_is_refused_by_its_compression_ratio(tmp_path: Path) -> None:
    rows = office_files.sheet_row("same", "row") * 20_000
    entry = zb.bomb(
        "xl/worksheets/sheet1.xml", office_files.SHEET_HEAD, rows, 200, office_files.SHEET_TAIL
    )
    data = office_files.with_part(tmp_path, office_files.workbook(), entry)
    message, seconds, peak = _refusal("book.xlsx", data)
    assert message.startswith("xl/worksheets/sheet1.xml is compressed ")
    assert message.endswith(":1, as zip bombs are (cap: 200:1); the XLSX is not indexed")
    assert seconds < 2.0 and peak < 4 * _MB


def test_shared_strings_lying_about_their_size_keep_the_whole_part_cap(tmp_path: Path) -> None:
    # openpyxl loads the shared strings whole: they get 64 MB, not a worksheet's 384 MB.
    head = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    block = b"<si><t>twenty-eight days of leave</t></si>" * 25_000
    entry = zb.bomb("xl/sharedStrings.xml", head, block, 80, b"</sst>", declared_size=500)
    data = office_files.with_part(tmp_path, office_files.workbook(), entry)
    message, seconds, peak = _refusal("book.xlsx", data)
    assert message == (
        "xl/sharedStrings.xml inflates to more than 64.0 MB of XML (cap per XML part); "
        "the XLSX is not indexed"
    )
    assert seconds < 3.0 and peak < 4 * _MB


def test_a_worksheet_nested_too_deep_is_refused(tmp_path: Path) -> None:
    # expat, which openpyxl streams worksheets with, has no depth limit; 30,000 levels in
    # 210 KB (a million would be 7 MB, all in expat's and ElementTree's memory).
    deep = b"<x>" * 30_000 + b"</x>" * 30_000
    sheet = office_files.SHEET_HEAD + b"<row>" + deep + b"</row>" + office_files.SHEET_TAIL
    entry = zb.deflated("xl/worksheets/sheet1.xml", sheet)
    data = office_files.with_part(tmp_path, office_files.workbook(), entry)
    message, seconds, _ = _refusal("book.xlsx", data)
    assert message == (
        "xl/worksheets/sheet1.xml nests its XML more than 100 levels deep (cap); "
        "the XLSX is not indexed"
    )
    assert seconds < 2.0


def test_a_worksheet_hiding_tags_in_a_comment_is_refused(tmp_path: Path) -> None:
    sheet = office_files.SHEET_HEAD + b"<!-- </x></x> -->" + office_files.SHEET_TAIL
    entry = zb.deflated("xl/worksheets/sheet1.xml", sheet)
    data = office_files.with_part(tmp_path, office_files.workbook(), entry)
    with pytest.raises(ParseError, match=r"^xl/worksheets/sheet1\.xml holds XML comments or CDATA"):
        parse_document("book.xlsx", data)


@pytest.mark.parametrize(
    ("name", "part", "file_type"),
    [("deck.pptx", "ppt/slides/slide1.xml", "PPTX"), ("book.xlsx", "xl/workbook.xml", "XLSX")],
)
def test_parts_loaded_whole_stop_at_lxmls_depth_limit(
    tmp_path: Path, name: str, part: str, file_type: str
) -> None:
    package = office_files.deck() if file_type == "PPTX" else office_files.workbook()
    original = office_files.part(package, part)
    # 10,000 levels inside the root element: lxml (libxml2 without XML_PARSE_HUGE) stops at 256.
    close = original.rindex(b"</")
    deep = original[:close] + b"<x>" * 10_000 + b"</x>" * 10_000 + original[close:]
    data = office_files.with_part(tmp_path, package, zb.deflated(part, deep))
    message, seconds, _ = _refusal(name, data)
    assert message.startswith(f"not a readable {file_type}: XMLSyntaxError: ")
    assert "depth" in message.lower()
    assert seconds < 2.0


def test_the_depth_gauge_counts_tags_as_xml_nests_them() -> None:
    gauge = DepthGauge()
    xml = (
        b"<a><b k=\"1>2\" j='/>'/><c/><d x=\"a/>b\">text with /> and > in it<e\n  y='1'\n/></d><f>"
    )
    # Fed one byte at a time, every tag straddles a chunk boundary.
    depths = [gauge.feed(xml[i : i + 1]) for i in range(len(xml))]
    assert depths[-1] == 2  # <a> and <f> are open
    assert max(d for d in depths if d is not None) <= 3
    gauge.start_part()
    assert gauge.feed(b"<a><![CDATA[</a>]]>") is None
    # A sheet as openpyxl writes it (self-closing tags, a formula), with Excel's XML
    # declaration, ends at depth 0.
    sheet = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + office_files.part(
        office_files.workbook(), "xl/worksheets/sheet1.xml"
    )
    assert sheet.count(b"/>") > 5
    gauge.start_part()
    assert [gauge.feed(sheet[i : i + 7]) for i in range(0, len(sheet), 7)][-1] == 0


def test_pptx_and_xlsx_parse_in_the_sandboxed_worker() -> None:
    deck, book = office_files.deck(), office_files.workbook()
    with ParserSandbox(FilesConfig()) as sandbox:
        assert sandbox.parse("deck.pptx", deck) == parse_document("deck.pptx", deck)
        assert sandbox.parse("book.xlsx", book) == parse_document("book.xlsx", book)
