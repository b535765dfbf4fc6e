"""Each cap of the OOXML pre-check, with caps shrunk so that the packages stay tiny."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from connectors.parsers.ooxml_limits import DOCX_LIMITS, OoxmlLimits, check_package
from connectors.parsers.parsed import ParseError
from tests.security import zip_builder as zb

_MB = 1024 * 1024


def _package(tmp_path: Path, *entries: zb.RawEntry) -> bytes:
    path = tmp_path / "doc.docx"
    zb.write_zip(path, list(entries))
    return path.read_bytes()


def _limits(**caps: float) -> OoxmlLimits:
    return dataclasses.replace(DOCX_LIMITS, **caps)  # type: ignore[arg-type]


def _body(*paragraphs: bytes) -> bytes:
    return zb.BODY_HEAD + b"".join(paragraphs) + zb.BODY_TAIL


def test_a_real_docx_and_bytes_that_are_no_zip_pass(make_docx: Callable[[], bytes]) -> None:
    check_package(make_docx(), DOCX_LIMITS)
    check_package(b"plain text, not a zip", DOCX_LIMITS)  # python-docx says what is wrong


def test_entry_count_cap(make_docx: Callable[[], bytes]) -> None:
    data = make_docx()
    entries = len(zipfile.ZipFile(io.BytesIO(data)).infolist())
    check_package(data, _limits(max_entries=entries))
    with pytest.raises(ParseError) as info:
        check_package(data, _limits(max_entries=entries - 1))
    assert str(info.value) == (
        f"it holds about {entries} zip entries (cap: {entries - 1}); the DOCX is not indexed"
    )


def test_declared_total_cap(tmp_path: Path) -> None:
    data = _package(tmp_path, zb.deflated("a.bin", b"x" * 3000), zb.deflated("b.bin", b"y" * 3000))
    check_package(data, _limits(max_total_bytes=6000))
    with pytest.raises(ParseError, match=r"^its parts declare 0\.0 MB uncompressed in total"):
        check_package(data, _limits(max_total_bytes=5999))


def test_declared_xml_part_cap(tmp_path: Path) -> None:
    data = _package(tmp_path, zb.deflated("word/document.xml", _body(b"<w:p/>" * 400_000)))
    with pytest.raises(
        ParseError, match=r"^word/document\.xml declares 2\.3 MB of XML \(cap per XML part: 2\.0 MB\)"
    ):
        check_package(data, _limits(max_xml_part_bytes=2 * _MB))


def test_compression_ratio_cap_applies_to_large_entries_only(tmp_path: Path) -> None:
    check_package(_package(tmp_path, zb.deflated("media/small.bin", bytes(_MB - 1))), DOCX_LIMITS)
    with pytest.raises(ParseError, match=r"^media/big\.bin is compressed 1,0\d\d:1, as zip bombs"):
        check_package(_package(tmp_path, zb.deflated("media/big.bin", bytes(_MB))), DOCX_LIMITS)


def test_real_size_caps_hold_when_declared_sizes_lie(tmp_path: Path) -> None:
    xml = zb.deflated("word/document.xml", _body(b"<w:t>abc</w:t>" * 200_000), declared_size=10)
    with pytest.raises(ParseError, match=r"^word/document\.xml inflates to more than 1\.0 MB of XML"):
        check_package(_package(tmp_path, xml), _limits(max_xml_part_bytes=_MB))
    media = zb.deflated("word/media/a.png", b"\x89PNG" * 300_000, declared_size=10)
    with pytest.raises(ParseError, match=r"^its parts inflate to more than 1\.0 MB in total"):
        check_package(_package(tmp_path, media), _limits(max_total_bytes=_MB))


def test_paragraphs_are_counted_whatever_the_prefix(tmp_path: Path) -> None:
    counted = [b"<w:p>", b'<w:p w:rsidR="00A1">', b"<w:p/>", b"<w:p\n>", b"<wx:p>", b"<a:p>", b"<p>"]
    ignored = [b"<w:pPr>", b"<w:pStyle w:val='x'/>", b"</w:p>", b"<w:tbl>", b"<pre>"]
    data = _package(tmp_path, zb.deflated("word/document.xml", _body(*counted, *ignored)))
    check_package(data, _limits(max_elements=len(counted)))
    with pytest.raises(ParseError, match=r"^its XML holds more than 6 paragraphs \(cap\)"):
        check_package(data, _limits(max_elements=len(counted) - 1))


def test_paragraphs_across_chunk_boundaries_are_counted_once(tmp_path: Path) -> None:
    # Stored, so the check reads exact 64 KB chunks: each tag below straddles or touches one.
    chunk = 64 * 1024
    xml = bytearray(b" " * (4 * chunk))
    for k, shift in enumerate((1, 3, 5, 0), start=1):
        start = k * chunk - shift
        xml[start : start + 5] = b"<w:p>"
    data = _package(tmp_path, zb.stored("word/document.xml", bytes(xml)))
    check_package(data, _limits(max_elements=4))
    with pytest.raises(ParseError, match="more than 3 paragraphs"):
        check_package(data, _limits(max_elements=3))


def test_a_declared_size_that_differs_from_the_real_one_is_refused(tmp_path: Path) -> None:
    entry = zb.deflated("word/styles.xml", b"<w:styles/>", declared_size=5)
    with pytest.raises(ParseError, match=r"^word/styles\.xml declares 5 bytes uncompressed but holds 11"):
        check_package(_package(tmp_path, entry), DOCX_LIMITS)


def test_methods_office_never_writes_and_encryption_are_refused(tmp_path: Path) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_BZIP2) as package:
        package.writestr("word/document.xml", _body())
    with pytest.raises(ParseError, match=r"^word/document\.xml uses zip compression method 12;"):
        check_package(out.getvalue(), DOCX_LIMITS)
    locked = dataclasses.replace(zb.deflated("word/document.xml", _body()), flags=1)
    with pytest.raises(ParseError, match=r"^word/document\.xml is encrypted;"):
        check_package(_package(tmp_path, locked), DOCX_LIMITS)


def test_truncated_and_corrupt_deflate_data(tmp_path: Path) -> None:
    whole = zb.deflated("word/document.xml", _body(b"<w:p/>" * 10_000))
    cut = dataclasses.replace(whole, chunks=(whole.chunks[0][:20],))
    with pytest.raises(ParseError, match=r"^not a readable DOCX: word/document\.xml is truncated$"):
        check_package(_package(tmp_path, cut), DOCX_LIMITS)
    garbage = dataclasses.replace(whole, chunks=(b"\xff" * 64,))
    with pytest.raises(ParseError, match=r"^not a readable DOCX: word/document\.xml: Error -3"):
        check_package(_package(tmp_path, garbage), DOCX_LIMITS)
