"""Documents -> chunks -> vectors -> index rows. Shared by the sync engine and evaluation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.acl import Acl
from core.models import Chunk, Document
from retrieval.acl_fields import AclFields, GroupMembers, encode_acl
from retrieval.chunking import Chunker
from retrieval.embedding import Embedder
from retrieval.index.base import IndexBackend, IndexedChunk


@dataclass(frozen=True)
class Prepared:
    document: Document
    acl: Acl
    fields: AclFields


def prepare(document: Document, members: GroupMembers) -> Prepared:
    """Check the ACL (deny by default) and encode it; raises DocumentRefused/AclEncodingError."""
    acl = document.require_acl()
    return Prepared(document, acl, encode_acl(acl, members))


def write_documents(
    batch: Sequence[Prepared], chunker: Chunker, embedder: Embedder, index: IndexBackend
) -> dict[str, int]:
    """Chunk, embed (one batched call for the whole batch) and replace these documents in the
    index in one write. Returns the chunk count per document id."""
    all_chunks: list[tuple[Chunk, AclFields]] = []
    counts: dict[str, int] = {}
    for p in batch:
        chunks = chunker.chunk(p.document, p.acl)
        counts[p.document.id] = len(chunks)
        all_chunks.extend((c, p.fields) for c in chunks)
    vectors = embedder.embed_documents([c.embed_text for c, _ in all_chunks])
    indexed = [IndexedChunk(c, vectors[i], fields) for i, (c, fields) in enumerate(all_chunks)]
    index.replace_documents([p.document.id for p in batch], indexed)
    return counts
