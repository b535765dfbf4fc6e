"""Structure-following chunking.

A chunk never spans two unrelated parts of a document: text is cut along sections (headings),
then paragraphs, then sentences, then words, each piece at most ``max_tokens`` tokens of the
embedding model's tokenizer. Pieces smaller than ``min_tokens`` are merged into a neighbour
when the sum still fits, keeping the sub-heading inline and the common heading path, so short
sections do not become context-free fragments. Each chunk's ``embed_text`` starts with the
document title and its heading path: an isolated paragraph still says what it is about.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.acl import Acl
from core.models import Chunk, Document

_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE = re.compile(r"(?<=[.!?;:])\s+")

TokenCounter = Callable[[Sequence[str]], list[int]]


@dataclass
class _Piece:
    heading_path: tuple[str, ...]
    text: str
    tokens: int


def _common_prefix(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for x, y in zip(a, b):
        if x != y:
            break
        out.append(x)
    return tuple(out)


class Chunker:
    def __init__(self, count_tokens: TokenCounter, max_tokens: int = 200, min_tokens: int = 40) -> None:
        if max_tokens < 8:
            raise ValueError("chunking.max_tokens must be at least 8")
        self.count = count_tokens
        self.max_tokens = max_tokens
        self.min_tokens = min(min_tokens, max_tokens // 2)

    def _split(self, text: str, separator: re.Pattern[str] | None) -> list[tuple[str, int]]:
        """Cut ``text`` into pieces of at most max_tokens, along ``separator`` and then finer."""
        parts = [p.strip() for p in (separator.split(text) if separator else text.split())]
        parts = [p for p in parts if p]
        if not parts:
            return []
        counts = self.count(parts)
        joiner = "\n\n" if separator is _PARAGRAPH else " "
        finer = {_PARAGRAPH: _SENTENCE, _SENTENCE: None}.get(separator) if separator else None
        out: list[tuple[str, int]] = []
        buf: list[str] = []
        buf_tokens = 0
        for part, n in zip(parts, counts):
            if n > self.max_tokens:
                if buf:
                    out.append((joiner.join(buf), buf_tokens))
                    buf, buf_tokens = [], 0
                if separator is None:  # a single "word" longer than the limit: hard cut
                    out.extend(self._hard_cut(part))
                else:
                    out.extend(self._split(part, finer))
                continue
            if buf and buf_tokens + n > self.max_tokens:
                out.append((joiner.join(buf), buf_tokens))
                buf, buf_tokens = [], 0
            buf.append(part)
            buf_tokens += n
        if buf:
            out.append((joiner.join(buf), buf_tokens))
        return out

    def _hard_cut(self, word: str) -> list[tuple[str, int]]:
        step = max(1, len(word) * self.max_tokens // max(1, self.count([word])[0]))
        pieces = [word[i : i + step] for i in range(0, len(word), step)]
        return list(zip(pieces, self.count(pieces)))

    def pieces(self, document: Document) -> list[_Piece]:
        pieces: list[_Piece] = []
        for section in document.sections:
            for text, n in self._split(section.text, _PARAGRAPH):
                pieces.append(_Piece(section.heading_path, text, n))
        merged: list[_Piece] = []
        for piece in pieces:
            prev = merged[-1] if merged else None
            if (
                prev is not None
                and (prev.tokens < self.min_tokens or piece.tokens < self.min_tokens)
                and prev.tokens + piece.tokens <= self.max_tokens
            ):
                inline = ""
                if piece.heading_path != prev.heading_path and piece.heading_path:
                    inline = piece.heading_path[-1] + "\n"
                prev.text = f"{prev.text}\n\n{inline}{piece.text}"
                prev.tokens += piece.tokens
                prev.heading_path = _common_prefix(prev.heading_path, piece.heading_path)
            else:
                merged.append(_Piece(piece.heading_path, piece.text, piece.tokens))
        return merged

    def chunk(self, document: Document, acl: Acl) -> list[Chunk]:
        chunks = []
        for i, piece in enumerate(self.pieces(document)):
            context = [document.title]
            if piece.heading_path:
                context.append(" > ".join(piece.heading_path))
            chunks.append(
                Chunk(
                    id=f"{document.id}:{i}",
                    document_id=document.id,
                    ordinal=i,
                    source_id=document.source_id,
                    title=document.title,
                    url=document.url,
                    heading_path=piece.heading_path,
                    text=piece.text,
                    embed_text="\n".join(context + [piece.text]),
                    acl=acl,
                )
            )
        return chunks
