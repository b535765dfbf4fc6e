"""Platform-neutral data model shared by connectors, retrieval and the bot."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from datetime import datetime

from core.acl import Acl
from core.errors import CoreError


def document_id(source: str, source_id: str) -> str:
    """Stable index id of a source's document: the source kind (``files``, ``confluence``)
    and a hash of the source instance and the source's own id (which may be long or contain
    characters an index key should not)."""
    kind = source.partition(":")[0]
    return f"{kind}:" + hashlib.sha256(f"{source}\n{source_id}".encode()).hexdigest()[:32]


# Lone surrogates (YAML escapes, PDF text maps decoded with surrogatepass) cannot be encoded as
# UTF-8, and PostgreSQL refuses NUL in text: either would fail the write of a whole batch.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    return _UNSTORABLE.sub("\ufffd", text)


class DocumentRefused(CoreError, ValueError):
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

    def storable(self) -> Document:
        """This document with every character that no store can hold replaced (U+FFFD)."""
        texts = [self.title, self.url, self.author or "", *self.metadata.values(),
                 *(t for s in self.sections for t in (*s.heading_path, s.text))]
        if not any(_UNSTORABLE.search(t) for t in texts):
            return self
        return replace(
            self,
            title=storable(self.title),
            url=storable(self.url),
            author=storable(self.author) if self.author is not None else None,
            metadata={k: storable(v) for k, v in self.metadata.items()},
            sections=tuple(Section(tuple(storable(h) for h in s.heading_path), storable(s.text)) for s in self.sections),
        )

    def content_hash(self) -> str:
        """Hash of everything that ends up in the index except the ACL (which is rewritten
        separately, without re-embedding)."""
        payload = json.dumps(
            [self.title, self.url, [[list(s.heading_path), s.text] for s in self.sections]],
            ensure_ascii=False,
        )
        # surrogatepass: a document not yet made storable must hash, not crash the caller
        return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


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
