"""Index backends: vectors + BM25 text + ACL clause fields, behind one interface."""

from retrieval.index.base import Hit, IndexBackend, IndexedChunk, IndexError_

__all__ = ["Hit", "IndexBackend", "IndexError_", "IndexedChunk"]
