"""A connector that can only scan its whole source, as a SyncConnector.

Every content run is a full scan (the files connector reads a local folder: cheap enough, and
the content hash keeps unchanged files from being written), so a file missing from a finished
scan is deleted by the content job itself. Its checkpoint only says that a scan finished. ACLs are re-read by scanning too, since a file's ACL comes from rule files alongside it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from connectors.base import (
    AclItem,
    AclRead,
    Change,
    CheckpointMark,
    Connector,
    Deleted,
    GroupSnapshot,
    Skipped,
    SyncConnector,
)
from core.models import Document


class FullScan(SyncConnector):
    lists_everything = True  # every content run is a complete listing: omissions are deletions

    def __init__(self, connector: Connector) -> None:
        self._connector = connector

    @property
    def source(self) -> str:
        return self._connector.source

    @property
    def group_namespace(self) -> str:
        return self._connector.group_namespace

    def changes(self, checkpoint: Mapping[str, Any] | None) -> Iterator[Change]:
        yield from self._connector.scan()
        yield CheckpointMark({"scanned_at": datetime.now(UTC).isoformat()})

    def list_ids(self) -> Iterator[str]:
        return self._connector.list_ids()

    def groups(self, referenced: frozenset[str]) -> GroupSnapshot:
        return self._connector.groups()

    def read_acls(self, source_ids: Sequence[str]) -> Iterator[AclItem]:
        wanted = set(source_ids)
        for item in self._connector.scan():
            if item.source_id not in wanted:
                continue
            wanted.discard(item.source_id)
            if not isinstance(item, Document):
                yield item
            elif item.acl is None or not item.acl.clauses:
                yield Skipped(item.source_id, "no access rule applies, so nobody may read it")
            else:
                yield AclRead(item.source_id, item.acl)
        for source_id in sorted(wanted):  # the scan finished without them: gone
            yield Deleted(source_id)

    def close(self) -> None:
        self._connector.close()
