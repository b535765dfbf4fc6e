"""Zip files written byte by byte, so that a test can make their headers lie and make them huge
cheaply: a bomb's compressed block is made once and repeated, its inflated bytes never exist.

Compressing each block after a full flush makes its deflate bytes independent of what came
before, so the same bytes may follow each other as often as wanted and still inflate correctly.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import docx

_DEFLATED = 8
_STORED = 0
_DOS_DATE_1980_01_01 = (1 << 5) | 1


@dataclass(frozen=True)
class RawEntry:
    name: str
    method: int
    crc: int
    size: int  # the real uncompressed size
    chunks: Sequence[bytes]  # the compressed bytes, in order
    declared_size: int | None = None  # what the headers claim, if not the truth
    flags: int = 0  # general purpose bits; 1 claims encryption

    @property
    def compressed_size(self) -> int:
        return sum(len(chunk) for chunk in self.chunks)


def deflated(name: str, data: bytes, declared_size: int | None = None) -> RawEntry:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = compressor.compress(data) + compressor.flush()
    return RawEntry(name, _DEFLATED, zlib.crc32(data), len(data), (body,), declared_size)


def stored(name: str, data: bytes) -> RawEntry:
    return RawEntry(name, _STORED, zlib.crc32(data), len(data), (data,))


def bomb(
    name: str, head: bytes, block: bytes, times: int, tail: bytes, declared_size: int | None = None
) -> RawEntry:
    """``head + block * times + tail``, deflated without ever holding more than one block."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    first = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    middle = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    last = compressor.compress(tail) + compressor.flush()
    crc = zlib.crc32(head)
    for _ in range(times):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(tail, crc)
    size = len(head) + len(block) * times + len(tail)
    return RawEntry(name, _DEFLATED, crc, size, (first, *[middle] * times, last), declared_size)


def write_zip(path: Path, entries: Sequence[RawEntry]) -> None:
    """A plain (non-zip64) archive; streamed to disk chunk by chunk."""
    central: list[bytes] = []
    with open(path, "wb") as out:
        for entry in entries:
            offset = out.tell()
            name = entry.name.encode()
            size = entry.size if entry.declared_size is None else entry.declared_size
            fields = (entry.method, 0, _DOS_DATE_1980_01_01, entry.crc, entry.compressed_size, size)
            out.write(struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, entry.flags, *fields, len(name), 0))
            out.write(name)
            out.writelines(entry.chunks)
            record = struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, entry.flags, *fields, len(name),
                                 0, 0, 0, 0, 0, offset)  # fmt: skip
            central.append(record + name)
        start = out.tell()
        for record in central:
            out.write(record)
        size_cd = out.tell() - start
        out.write(struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(central), len(central),
                              size_cd, start, 0))  # fmt: skip


def docx_parts_except_body() -> list[RawEntry]:
    """Every part of python-docx's blank document but word/document.xml, re-deflated."""
    out = io.BytesIO()
    docx.Document().save(out)
    with zipfile.ZipFile(out) as package:
        return [
            deflated(name, package.read(name))
            for name in package.namelist()
            if name != "word/document.xml"
        ]


BODY_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    b"<w:body>"
)
BODY_TAIL = b"</w:body></w:document>"


def paragraph(text: str) -> bytes:
    return f'<w:p><w:r><w:t xml:space="preserve">{text}</w:t></w:r></w:p>'.encode()
