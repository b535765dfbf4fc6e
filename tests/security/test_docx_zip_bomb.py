"""A DOCX zip bomb is refused before python-docx sees it, quickly and in little memory (item 6).

Reported: a 646 KB DOCX holding 200 MB of XML ran past 10 minutes and 3 GB of memory. Here a
712 KB one holding 193 MB (deflate cannot pack this XML tighter), written to a temp dir without
ever holding the inflated bytes. Memory is traced with tracemalloc, which sees every buffer
zipfile, zlib and the check allocate (python-docx's lxml trees it would not see, but the check
refuses before they exist; without it, zipfile alone allocates the 193 MB).
"""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from connectors.parsers.by_extension import parse_document
from connectors.parsers.parsed import ParseError
from tests.security import zip_builder as zb

_PARAGRAPH = zb.paragraph("Leave policy: everyone gets twenty-eight days a year. ")
_BLOCK = _PARAGRAPH * (1024 * 1024 // len(_PARAGRAPH))
_TIMES = 193_000_000 // len(_BLOCK)
_MB = 1024 * 1024


def _bomb_file(tmp_path: Path, declared_size: int | None = None, block: bytes = _BLOCK) -> bytes:
    body = zb.bomb("word/document.xml", zb.BODY_HEAD, block, _TIMES, zb.BODY_TAIL, declared_size)
    path = tmp_path / "handbook.docx"
    zb.write_zip(path, [*zb.docx_parts_except_body(), body])
    return path.read_bytes()


def _refusal(data: bytes) -> tuple[str, float, int]:
    """The ParseError's message, the seconds it took and the peak of traced memory."""
    start = time.perf_counter()
    with pytest.raises(ParseError) as info:
        parse_document("handbook.docx", data)
    seconds = time.perf_counter() - start
    tracemalloc.start()  # a second run: tracing slows allocation down, so it is not timed
    try:
        with pytest.raises(ParseError):
            parse_document("handbook.docx", data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return str(info.value), seconds, peak


def test_the_reported_bomb_is_refused_in_well_under_two_seconds(tmp_path: Path) -> None:
    data = _bomb_file(tmp_path)
    assert 600_000 < len(data) < 800_000
    message, seconds, peak = _refusal(data)
    assert message == (
        "word/document.xml declares 184.0 MB of XML (cap per XML part: 64.0 MB); "
        "the DOCX is not indexed"
    )
    assert seconds < 2.0
    assert peak < 4 * _MB


@pytest.mark.parametrize(
    ("block", "cap"),
    [
        (_BLOCK, "its XML holds more than 250,000 paragraphs (cap)"),
        # Runs and no paragraph marks: nothing to count, so the inflated size is what stops it.
        (b"<w:r><w:t>" + b"twenty-eight days " * 58_254 + b"</w:t></w:r>", "more than 64.0 MB"),
    ],
    ids=["many-paragraphs", "one-endless-run"],
)
def test_lying_declared_sizes_are_caught_while_inflating(
    tmp_path: Path, block: bytes, cap: str
) -> None:
    # The central directory and the local header both claim 1 KB: every declared cap passes.
    message, seconds, peak = _refusal(_bomb_file(tmp_path, declared_size=1000, block=block))
    assert cap in message and message.endswith("; the DOCX is not indexed")
    assert seconds < 2.0
    assert peak < 4 * _MB


def test_a_lie_below_the_caps_is_refused_too(tmp_path: Path) -> None:
    # zipfile trusts the declared size; python-docx would then read a different document.
    body = zb.BODY_HEAD + zb.paragraph("Hello") + zb.BODY_TAIL
    path = tmp_path / "small.docx"
    entry = zb.deflated("word/document.xml", body, declared_size=len(body) - 10)
    zb.write_zip(path, [*zb.docx_parts_except_body(), entry])
    with pytest.raises(ParseError, match=r"declares \d+ bytes uncompressed but holds \d+: its zip"):
        parse_document("small.docx", path.read_bytes())
