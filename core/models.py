"""Platform-neutral data model shared by connectors, retrieval and the bot."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime

from core.acl import Acl


def document_id(source: str, source_id: str) -> str:
    """Stable index id of a source's document: the source kind (``files``, ``confluence``)
    and a hash of the source instance and the source's own id (which may be long or contain
    characters an index key should not)."""
    kind = source.partition(":")[0]
    return f"{kind}:" + hashlib.sha256(f"{source}\n{source_id}".encode()).hexdigest()[:32]


class DocumentRefused(ValueError):
    """A document that must not be indexed (for example: it carries no ACL)."""


@dataclass(frozen=True)
class Section:
    """A run of text under a heading path, e.g. ("Leave", "Carry-over")."""

    heading_path: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class Document:
    id: str  # stable across syncs: source + source_id
    source: str  # connector instance, e.g. "files:/srv/handbook"
    source_id: str  # the source's own id; for files, the path relative to the root
    title: str
    url: str
    sections: tuple[Section, ...]
    acl: Acl | None
    updated_at: datetime | None = None
    author: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    def require_acl(self) -> Acl:
        """Deny by default: a document without an ACL (or with an empty one) is refused."""
        if self.acl is None or not self.acl.clauses:
            raise DocumentRefused(
                f"{self.source_id}: no access rule applies, so nobody may read it; not indexed"
            )
        return self.acl

    def content_hash(self) -> str:
        """Hash of everything that ends up in the index except the ACL (which is rewritten
        separately, without re-embedding)."""
        payload = json.dumps(
            [self.title, self.url, [[list(s.heading_path), s.text] for s in self.sections]],
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Chunk:
    id: str  # document id + ordinal
    document_id: str
    ordinal: int
    source_id: str
    title: str
    url: str
    heading_path: tuple[str, ...]
    text: str  # what a reader sees and what BM25 indexes
    embed_text: str  # title and heading path prepended: what the embedder sees
    acl: Acl
