"""An in-memory source implementing the SyncConnector contract, scriptable for tests.

Every change bumps a global sequence number; ``changes`` yields documents with a sequence above
the checkpoint's, oldest first, a CheckpointMark after every ``mark_every`` items and at the end
(like a connector paging through a "modified since" query). Deletions the source knows about
(``forget``) are yielded as Deleted; ``vanish`` removes a document silently (only a full
reconciliation finds out). ``fail_after`` makes the next listing raise after that many items.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.base import (
    AclItem,
    AclRead,
    Change,
    CheckpointMark,
    Deleted,
    Failed,
    GroupSnapshot,
    SyncConnector,
)
from core.acl import Acl
from core.models import Document, Section, document_id


class SourceDown(RuntimeError):
    pass


@dataclass
class _Doc:
    text: str
    acl: list[list[str]]
    seq: int
    broken: bool = False
    owner: str | None = None
    updated_at: datetime | None = None


@dataclass
class FakeSource(SyncConnector):
    name: str = "fake:test"
    mark_every: int = 2
    docs: dict[str, _Doc] = field(default_factory=dict)
    tombstones: dict[str, int] = field(default_factory=dict)  # source id -> seq of deletion
    memberships: dict[str, frozenset[str]] = field(default_factory=dict)
    seq: int = 0
    fail_after: int | None = None  # next changes()/list_ids()/read_acls() raises after n items
    checkpoints_seen: list[Mapping[str, Any] | None] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)
    gate: threading.Event | None = None  # changes() waits on it before the first item
    entered: threading.Event = field(default_factory=threading.Event)

    @property
    def source(self) -> str:
        return self.name

    @property
    def group_namespace(self) -> str:
        return "group:files:fake:"

    # -- scripting -------------------------------------------------------------------------

    def put(
        self, source_id: str, text: str, acl: list[list[str]] | None = None, *, broken: bool = False,
        owner: str | None = None,
    ) -> None:
        self.seq += 1
        current = self.docs.get(source_id)
        self.docs[source_id] = _Doc(
            text, acl or (current.acl if current else [["org:members"]]), self.seq, broken, owner
        )
        self.tombstones.pop(source_id, None)

    def set_owner(self, source_id: str, owner: str | None) -> None:
        """A new version by another person with the same content (a new sequence number)."""
        self.seq += 1
        self.docs[source_id].owner = owner
        self.docs[source_id].seq = self.seq

    def set_acl(self, source_id: str, acl: list[list[str]]) -> None:
        """A permission change that does not touch the content (no new sequence number)."""
        self.docs[source_id].acl = acl

    def forget(self, source_id: str) -> None:
        self.seq += 1
        del self.docs[source_id]
        self.tombstones[source_id] = self.seq

    def vanish(self, source_id: str) -> None:
        del self.docs[source_id]

    # -- the contract ----------------------------------------------------------------------

    def _count(self, what: str) -> None:
        self.calls[what] = self.calls.get(what, 0) + 1

    def _budget(self) -> Iterator[None]:
        limit, self.fail_after = self.fail_after, None
        n = 0
        while True:
            if limit is not None and n >= limit:
                raise SourceDown("source API answered 503 three times")
            n += 1
            yield None

    def document(self, source_id: str) -> Document:
        d = self.docs[source_id]
        return Document(
            id=document_id(self.name, source_id),
            source=self.name,
            source_id=source_id,
            title=source_id,
            url=f"https://fake.example/{source_id}",
            sections=(Section((), d.text),),
            acl=Acl.of(d.acl),
            author=d.owner,
            updated_at=d.updated_at,
        )

    def changes(self, checkpoint: Mapping[str, Any] | None) -> Iterator[Change]:
        self._count("changes")
        self.checkpoints_seen.append(checkpoint)
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(10)
        since = int(checkpoint["seq"]) if checkpoint else 0
        budget = self._budget()
        events: list[tuple[int, str, bool]] = [(d.seq, sid, True) for sid, d in self.docs.items() if d.seq > since]
        events += [(seq, sid, False) for sid, seq in self.tombstones.items() if seq > since]
        events.sort()
        last = since
        for n, (seq, sid, alive) in enumerate(events, 1):
            next(budget)
            if not alive:
                yield Deleted(sid)
            elif self.docs[sid].broken:
                yield Failed(sid, "body could not be parsed")
            else:
                yield self.document(sid)
            last = seq
            if n % self.mark_every == 0:
                yield CheckpointMark({"seq": last})
        yield CheckpointMark({"seq": max(last, since)})

    def list_ids(self) -> Iterator[str]:
        self._count("list_ids")
        budget = self._budget()
        for sid in sorted(self.docs):
            next(budget)
            yield sid

    def groups(self, referenced: frozenset[str]) -> GroupSnapshot:
        self._count("groups")
        return GroupSnapshot(dict(self.memberships))

    def read_acls(self, source_ids: Sequence[str]) -> Iterator[AclItem]:
        self._count("read_acls")
        budget = self._budget()
        for sid in source_ids:
            next(budget)
            if sid in self.docs:
                yield AclRead(sid, Acl.of(self.docs[sid].acl))
            else:
                yield Deleted(sid)
