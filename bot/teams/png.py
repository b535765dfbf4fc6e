"""Just enough PNG to check a Teams app icon: its size, its colour type, and every pixel.

Teams wants a 192x192 colour icon and a 32x32 outline icon that is white on transparent. The
package command reads the icons it zips with this (no imaging library is a dependency). It
decodes 8-bit, non-interlaced images of every colour type (greyscale, RGB, palette, each with or
without alpha); anything else is reported as unsupported rather than guessed at.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from bot.errors import BotError

SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOUR_TYPES = {0: "greyscale", 2: "RGB", 3: "palette", 4: "greyscale+alpha", 6: "RGBA"}
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
MAX_PIXELS = 4096 * 4096  # an icon; anything larger is refused before inflating it


class PngError(BotError, ValueError):
    """Not a PNG this module can read; the message says why."""


@dataclass(frozen=True)
class Png:
    width: int
    height: int
    bit_depth: int
    colour_type: int
    interlaced: bool
    chunks: dict[bytes, list[bytes]]

    @property
    def mode(self) -> str:
        return COLOUR_TYPES.get(self.colour_type, f"colour type {self.colour_type}")

    @property
    def has_alpha(self) -> bool:
        return self.colour_type in (4, 6) or b"tRNS" in self.chunks

    def pixels(self) -> list[tuple[int, int, int, int]]:
        """Every pixel as (red, green, blue, alpha), row by row."""
        if self.bit_depth != 8 or self.interlaced:
            raise PngError(
                f"only 8-bit non-interlaced PNGs can be checked (this one: {self.bit_depth}-bit"
                f"{', interlaced' if self.interlaced else ''})"
            )
        raw = _inflate(b"".join(self.chunks.get(b"IDAT", [])), self._raw_size())
        rows = _unfilter(raw, self.width * _CHANNELS[self.colour_type], self.height, _CHANNELS[self.colour_type])
        return [px for row in rows for px in self._row_pixels(row)]

    def _raw_size(self) -> int:
        return self.height * (1 + self.width * _CHANNELS[self.colour_type])

    def _row_pixels(self, row: bytes) -> list[tuple[int, int, int, int]]:
        t = self.colour_type
        if t == 6:
            return [(row[i], row[i + 1], row[i + 2], row[i + 3]) for i in range(0, len(row), 4)]
        if t == 4:
            return [(row[i], row[i], row[i], row[i + 1]) for i in range(0, len(row), 2)]
        trns = b"".join(self.chunks.get(b"tRNS", []))
        if t == 2:
            key = struct.unpack(">HHH", trns) if len(trns) == 6 else None
            return [
                (r, g, b, 0 if key == (r, g, b) else 255)
                for r, g, b in zip(row[0::3], row[1::3], row[2::3], strict=True)
            ]
        if t == 0:
            grey_key = struct.unpack(">H", trns)[0] if len(trns) == 2 else None
            return [(v, v, v, 0 if v == grey_key else 255) for v in row]
        palette = b"".join(self.chunks.get(b"PLTE", []))
        out = []
        for index in row:
            if 3 * index + 2 >= len(palette):
                raise PngError(f"palette index {index} is outside the palette")
            alpha = trns[index] if index < len(trns) else 255
            out.append((palette[3 * index], palette[3 * index + 1], palette[3 * index + 2], alpha))
        return out


def read_png(data: bytes) -> Png:
    """The header and chunks of a PNG; raises PngError when it is none."""
    if not data.startswith(SIGNATURE):
        raise PngError("not a PNG file (no PNG signature)")
    chunks: dict[bytes, list[bytes]] = {}
    pos = len(SIGNATURE)
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if len(body) != length or pos + 12 + length > len(data):
            raise PngError(f"truncated {kind.decode('latin-1')} chunk")
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        if zlib.crc32(kind + body) != crc:
            raise PngError(f"bad checksum in the {kind.decode('latin-1')} chunk")
        chunks.setdefault(kind, []).append(body)
        pos += 12 + length
        if kind == b"IEND":
            break
    header = chunks.get(b"IHDR", [b""])[0]
    if len(header) != 13 or b"IEND" not in chunks:
        raise PngError("missing IHDR or IEND chunk")
    width, height, depth, colour, _compression, _filter, interlace = struct.unpack(">IIBBBBB", header)
    if colour not in COLOUR_TYPES:
        raise PngError(f"unknown colour type {colour}")
    if not 0 < width * height <= MAX_PIXELS:
        raise PngError(f"{width}x{height} is no icon size")
    return Png(width, height, depth, colour, interlace == 1, chunks)


def _inflate(data: bytes, expected: int) -> bytes:
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(data, expected + 1)
    except zlib.error as exc:
        raise PngError(f"corrupt image data: {exc}") from exc
    if len(raw) != expected:
        raise PngError(f"image data is {len(raw)} bytes, expected {expected}")
    return raw


def _unfilter(raw: bytes, stride: int, height: int, bpp: int) -> list[bytes]:
    rows: list[bytes] = []
    prior = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = prior[i]
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                up_left = prior[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + _paeth(left, up, up_left)) & 0xFF
            elif kind != 0:
                raise PngError(f"unknown filter type {kind} in row {y}")
        rows.append(bytes(line))
        prior = line
    return rows


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c
