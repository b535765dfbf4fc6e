"""The retrieval layer's errors (see core.errors for the whole tree).

    RetrievalError
    ├── IndexError_         the index cannot be read or written (retrieval.index)
    ├── EmbeddingError      the embedding model cannot be loaded or run
    ├── ProviderError       an answer provider (LLM) failed: the answer falls back
    ├── AclEncodingError    an ACL cannot be encoded in the index's clause fields: not indexed
    └── EvalDataError       an evaluation folder is missing or malformed
"""

from __future__ import annotations

from core.errors import LoreError


class RetrievalError(LoreError):
    """The index, the embedder or an answer provider failed."""
