"""Caps on an Office Open XML package (DOCX, PPTX, XLSX), checked before a parser opens it.

One rule: nothing here inflates more bytes than the caps allow, whatever the zip's headers
claim. A 646 KB DOCX holding 200 MB of XML once ran past 10 minutes and 3 GB of memory inside
python-docx, which loads and parses every part at once. So before it sees the bytes:

- the number of entries is capped (counted in the raw bytes, before zipfile builds an object
  per entry);
- the sizes the central directory declares are capped per XML part and in total, and each
  large entry's declared compression ratio is capped;
- every entry is then inflated for real, in 64 KB steps that are discarded as they go, because
  declared sizes can lie; inflating stops at the first cap exceeded, and an entry whose real
  size differs from its declared one is refused (zipfile would trust the declaration);
- paragraphs (or whatever element a format counts) are counted while the XML streams past;
- parts the parser streams (XLSX worksheets) may be larger, and their nesting is capped.

Memory stays at a few chunks whatever the file; time is bounded by the caps.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NoReturn

from .parsed import ParseError
from .xml_depth import DepthGauge

_MB = 1024 * 1024
_CHUNK = 64 * 1024
_CENTRAL_ENTRY = b"PK\x01\x02"
_LOCAL_HEADER = b"PK\x03\x04"
_LOCAL_HEADER_SIZE = 30
_XML_SUFFIXES = (".xml", ".rels")
# An element whose namespace prefix is longer than this escapes the count; the size caps hold.
_MAX_PREFIX = 64


@dataclass(frozen=True)
class OoxmlLimits:
    """The caps for one format; see DOCX_LIMITS for the reasoning behind the numbers."""

    file_type: str  # named in messages: "DOCX"
    max_entries: int
    max_total_bytes: int  # all entries, uncompressed
    max_xml_part_bytes: int  # each XML part, uncompressed
    max_ratio: float  # uncompressed / compressed, for entries of ratio_floor_bytes and more
    ratio_floor_bytes: int
    element: str  # local name of the element counted in XML parts: "p" for paragraphs
    element_label: str  # "paragraphs"
    max_elements: int
    # XML parts the parser streams instead of loading whole (XLSX worksheets), by name prefix,
    # their larger size cap and their nesting cap (xml_depth.DepthGauge); empty: none.
    streamed_prefix: str = ""
    max_streamed_part_bytes: int = 0
    max_streamed_depth: int = 0


# A real large handbook (500 pages, 20,000 paragraphs, a hundred tables, screenshots) is a
# 1-20 MB file whose document.xml is 10-30 MB of XML compressed about 10:1, with a few hundred
# entries. The caps leave several times that; beyond them python-docx's lxml trees (about ten
# times the XML's size) would not fit the parse sandbox's memory anyway.
DOCX_LIMITS = OoxmlLimits(
    file_type="DOCX",
    max_entries=10_000,  # a manual with a thousand screenshots has about a thousand entries
    max_total_bytes=256 * _MB,
    max_xml_part_bytes=64 * _MB,
    # Word's XML compresses 5-30:1, forms of empty table cells about 100:1; deflate tops out
    # near 1,000:1, which is what bombs use (the reported one: 310:1).
    max_ratio=200.0,
    ratio_floor_bytes=_MB,  # small parts may compress as they like; they cannot hurt
    element="p",
    element_label="paragraphs",
    max_elements=250_000,  # 20,000 in the 500-page handbook, table cells included
)


# A large training deck (300 slides, screenshots, speaker notes) is a 20-100 MB file whose
# slide parts are small XML; its media dominate. python-pptx parses one slide at a time, so the
# per-part cap matters less than for DOCX; the totals leave room for big embedded media.
PPTX_LIMITS = OoxmlLimits(
    file_type="PPTX",
    max_entries=10_000,  # a 1,000-slide deck holds about 3 entries per slide plus media
    max_total_bytes=512 * _MB,
    max_xml_part_bytes=32 * _MB,
    max_ratio=200.0,  # as for DOCX: slide XML compresses 5-20:1, bombs 300-1,000:1
    ratio_floor_bytes=_MB,
    element="p",  # DrawingML paragraphs (a:p): every line of text on slides and in notes
    element_label="paragraphs",
    max_elements=250_000,  # 300 slides of 50 lines each plus notes: about 20,000
)

# openpyxl (read_only) streams worksheet XML row by row and the XLSX parser stops at its own
# row and cell budget, so a worksheet part may be large: a 1,048,576-row sheet of a few
# columns is 100-300 MB of XML. The other parts (shared strings, styles, workbook) are loaded
# whole, so they keep DOCX's cap. Rows are counted only as a last bound on the time the check
# itself takes (inflating and scanning 512 MB: about 4 s).
XLSX_LIMITS = OoxmlLimits(
    file_type="XLSX",
    max_entries=10_000,  # one entry per sheet, drawing, chart and their relationships
    max_total_bytes=512 * _MB,
    max_xml_part_bytes=64 * _MB,
    max_ratio=200.0,  # sheet XML compresses 8-50:1 (a column of 0s: about 100:1)
    ratio_floor_bytes=_MB,
    element="row",
    element_label="rows",
    max_elements=4_000_000,  # four sheets of Excel's 1,048,576 rows
    streamed_prefix="xl/worksheets/",
    max_streamed_part_bytes=384 * _MB,
    max_streamed_depth=100,  # a worksheet nests about 8 deep (worksheet, sheetData, row, c, is, r, t)
)


def check_package(data: bytes, limits: OoxmlLimits) -> None:
    """Raises ParseError naming the cap and the value for the first cap the package exceeds.

    A file that is not a zip at all passes: the format's parser says that better."""
    # Every central directory record starts with this signature (zipfile insists), so counting
    # it bounds the entries before zipfile builds an object for each; data may add a few more.
    entries = data.count(_CENTRAL_ENTRY)
    if entries > limits.max_entries:
        _refuse(limits, f"it holds about {entries:,} zip entries (cap: {limits.max_entries:,})")
    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except Exception:  # noqa: BLE001 - the parser opens the same bytes and says what is wrong
        return
    for info in infos:
        _check_declared(info, limits)
    declared = sum(info.file_size for info in infos)
    if declared > limits.max_total_bytes:
        _refuse(
            limits,
            f"its parts declare {_mb(declared)} uncompressed in total "
            f"(cap: {_mb(limits.max_total_bytes)})",
        )
    _check_real_sizes(memoryview(data), infos, limits)


def _check_declared(info: zipfile.ZipInfo, limits: OoxmlLimits) -> None:
    name = info.filename
    if info.flag_bits & 0x1:
        _refuse(limits, f"{name} is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        # Office writes only these two; the others cannot be inflated in bounded steps here.
        _refuse(limits, f"{name} uses zip compression method {info.compress_type}")
    cap = _xml_cap(info, limits)
    if cap is not None and info.file_size > cap:
        _refuse(
            limits,
            f"{name} declares {_mb(info.file_size)} of XML (cap per XML part: {_mb(cap)})",
        )
    if info.file_size >= limits.ratio_floor_bytes:
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.max_ratio:
            _refuse(
                limits,
                f"{name} is compressed {ratio:,.0f}:1, as zip bombs are "
                f"(cap: {limits.max_ratio:,.0f}:1)",
            )


def _check_real_sizes(data: memoryview, infos: list[zipfile.ZipInfo], limits: OoxmlLimits) -> None:
    counter = _ElementCounter(limits.element)
    gauge = DepthGauge()
    total = 0
    for info in infos:
        cap = _xml_cap(info, limits)
        xml = cap is not None
        streamed = xml and _streamed(info, limits)
        counter.start_part()
        gauge.start_part()
        size = 0
        for chunk in _inflate(data, info, limits):
            size += len(chunk)
            total += len(chunk)
            if cap is not None and size > cap:
                _refuse(
                    limits,
                    f"{info.filename} inflates to more than {_mb(cap)} of XML (cap per XML part)",
                )
            if total > limits.max_total_bytes:
                _refuse(
                    limits,
                    f"its parts inflate to more than {_mb(limits.max_total_bytes)} in total (cap)",
                )
            if xml and counter.feed(chunk) > limits.max_elements:
                _refuse(
                    limits,
                    f"its XML holds more than {limits.max_elements:,} {limits.element_label} (cap)",
                )
            if streamed:
                _check_depth(info, gauge.feed(chunk), limits)
        if size != info.file_size:
            # zipfile would trust the declaration and inflate whatever the entry really holds.
            _refuse(
                limits,
                f"{info.filename} declares {info.file_size:,} bytes uncompressed but holds "
                f"{size:,}: its zip headers lie",
            )


def _check_depth(info: zipfile.ZipInfo, depth: int | None, limits: OoxmlLimits) -> None:
    if depth is None:
        _refuse(limits, f"{info.filename} holds XML comments or CDATA, which hide its structure")
    if depth > limits.max_streamed_depth:
        _refuse(
            limits,
            f"{info.filename} nests its XML more than {limits.max_streamed_depth} levels deep (cap)",
        )


def _inflate(data: memoryview, info: zipfile.ZipInfo, limits: OoxmlLimits) -> Iterator[bytes]:
    """The entry's uncompressed bytes in chunks of at most 64 KB, never all at once."""
    start = info.header_offset
    header = data[start : start + _LOCAL_HEADER_SIZE]
    if len(header) < _LOCAL_HEADER_SIZE or bytes(header[:4]) != _LOCAL_HEADER:
        _corrupt(limits, f"{info.filename} has no valid local zip header")
    name_length, extra_length = struct.unpack_from("<HH", header, 26)
    begin = start + _LOCAL_HEADER_SIZE + name_length + extra_length
    raw = data[begin : begin + info.compress_size]
    if info.compress_type == zipfile.ZIP_STORED:
        for offset in range(0, len(raw), _CHUNK):
            yield bytes(raw[offset : offset + _CHUNK])
        return
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as zip stores it
    offset = 0
    pending: bytes | memoryview = b""
    while not inflater.eof:
        if not pending:
            if offset >= len(raw):
                _corrupt(limits, f"{info.filename} is truncated")
            pending = raw[offset : offset + _CHUNK]
            offset += _CHUNK
        try:
            chunk = inflater.decompress(pending, _CHUNK)
        except zlib.error as exc:
            _corrupt(limits, f"{info.filename}: {exc}")
        pending = inflater.unconsumed_tail
        if chunk:
            yield chunk


class _ElementCounter:
    """Counts start tags of one element, any namespace prefix, across chunk boundaries."""

    def __init__(self, local_name: str) -> None:
        self._pattern = re.compile(
            rb"<(?:[A-Za-z_][\w.\-]{0,%d}:)?%s[\s/>]"
            % (_MAX_PREFIX - 1, re.escape(local_name.encode()))
        )
        # '<', prefix, ':', name, one byte: a match can start this far before its end.
        self._keep = _MAX_PREFIX + len(local_name) + 3
        self._tail = b""
        self.count = 0

    def start_part(self) -> None:
        self._tail = b""

    def feed(self, chunk: bytes) -> int:
        window = self._tail + chunk
        # Matches cannot overlap (only their first byte is '<'), so those of the old tail alone
        # are exactly the ones counted already.
        self.count += len(self._pattern.findall(window)) - len(self._pattern.findall(self._tail))
        self._tail = window[-self._keep :]
        return self.count


def _xml_cap(info: zipfile.ZipInfo, limits: OoxmlLimits) -> int | None:
    """The size cap of an XML part; None for other entries (media), which only the total caps."""
    if not info.filename.lower().endswith(_XML_SUFFIXES):
        return None
    return limits.max_streamed_part_bytes if _streamed(info, limits) else limits.max_xml_part_bytes


def _streamed(info: zipfile.ZipInfo, limits: OoxmlLimits) -> bool:
    return bool(limits.streamed_prefix) and info.filename.startswith(limits.streamed_prefix)


def _mb(size: int) -> str:
    return f"{size / _MB:,.1f} MB"


def _refuse(limits: OoxmlLimits, problem: str) -> NoReturn:
    raise ParseError(f"{problem}; the {limits.file_type} is not indexed")


def _corrupt(limits: OoxmlLimits, problem: str) -> NoReturn:
    raise ParseError(f"not a readable {limits.file_type}: {problem}")
