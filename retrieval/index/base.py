"""The interface every index backend implements.

Both searches take the searcher's principals and must apply the ACL filter inside the engine's
query (never by post-filtering a top-k). Writes are per document: all chunks of a document are
replaced together. A backend's settings model (:class:`IndexSettings`) opens it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from core.models import Chunk
from retrieval.acl_fields import AclFields
from retrieval.errors import RetrievalError


class IndexError_(RetrievalError, RuntimeError):
    """The index cannot be read or written."""


@dataclass(frozen=True)
class IndexedChunk:
    chunk: Chunk
    vector: npt.NDArray[np.float32]
    acl_fields: AclFields


@dataclass(frozen=True)
class Hit:
    chunk_id: str
    document_id: str
    source_id: str
    title: str
    url: str
    heading_path: tuple[str, ...]
    text: str
    score: float  # higher is better; scale depends on the retriever
    # The stored embedding, only when the search was asked for it (query feedback needs it).
    vector: npt.NDArray[np.float32] | None = field(default=None, compare=False, repr=False)


class IndexBackend(Protocol):
    def replace_documents(self, document_ids: Sequence[str], chunks: Sequence[IndexedChunk]) -> None:
        """Make the index hold exactly ``chunks`` for these documents, atomically where the
        engine allows it (a crash leaves the old or the new state of the batch)."""
        ...

    def delete_documents(self, document_ids: Sequence[str]) -> None: ...

    def update_acls(self, updates: Mapping[str, AclFields]) -> None:
        """Rewrite the ACL fields of every chunk of these documents (document id -> fields),
        without re-embedding."""
        ...

    def dense_search(
        self,
        vector: npt.NDArray[np.float32],
        principals: Sequence[str],
        limit: int,
        *,
        with_vectors: bool = False,
    ) -> list[Hit]: ...

    def lexical_search(self, query: str, principals: Sequence[str], limit: int) -> list[Hit]: ...

    def document_ids(self) -> set[str]: ...

    def count_chunks(self) -> int: ...

    def optimize(self) -> None:
        """Fold recent writes into the indexes (after an ingest run)."""
        ...


class IndexSettings(Protocol):
    """A backend's settings model (``[index.<backend>]``, a dataclass), which opens the backend
    it configures. ``data_dir`` is where an embedded backend keeps its files by default."""

    def open(self, data_dir: Path, dimension: int) -> IndexBackend:
        """The index, created empty for vectors of ``dimension`` when there is none."""
        ...

    def open_existing(self, data_dir: Path) -> IndexBackend | None:
        """The index as it is, without knowing its vector size (status commands); None when
        there is none yet."""
        ...

    def location(self, data_dir: Path) -> str:
        """Where the index is, for messages: a folder, a URL."""
        ...
