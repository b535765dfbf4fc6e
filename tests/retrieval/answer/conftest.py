"""Fixtures for the answer tests: the LLM stand-in on a free loopback port, and hits."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable

import pytest

from retrieval.answer.citations import MARKER_RE
from retrieval.index.base import Hit
from tests.fakes.llm_stand_in import LlmStandIn

API_KEY = "gsk_test_0123456789abcdefSECRET"

MakeHit = Callable[..., Hit]


def _hit(
    text: str,
    *,
    doc: str = "doc-1",
    title: str = "Handbook",
    heading: tuple[str, ...] = (),
    url: str | None = None,
    score: float = 1.0,
) -> Hit:
    return Hit(
        chunk_id=f"{doc}#{'/'.join(heading)}#{abs(hash(text)) % 10_000}",
        document_id=doc,
        source_id=f"{doc}.md",
        title=title,
        url=url or f"https://wiki.example/{doc}",
        heading_path=heading,
        text=text,
        score=score,
    )


def quoted_words(text: str) -> int:
    """The words a reader sees quoted in an extractive answer: citation markers, list markers
    and the punctuation a removed marker leaves alone aside."""
    text = re.sub(r"^\s*(?:-|\d+[.)])\s+", "", MARKER_RE.sub("", text), flags=re.MULTILINE)
    return sum(1 for word in text.split() if re.search(r"\w", word))


@pytest.fixture
def make_hit() -> MakeHit:
    return _hit


@pytest.fixture
def api_key() -> str:
    return API_KEY


@pytest.fixture
async def stand_in() -> AsyncIterator[LlmStandIn]:
    async with LlmStandIn.running(api_keys=[API_KEY]) as server:
        yield server
