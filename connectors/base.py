"""The contract between a source and the ingest engine.

A connector scans its source and yields one :class:`ScanItem` per candidate document: the
document itself, or the reason it was skipped or could not be read. A broken document never
ends a scan: the engine records the failure and goes on with the rest (the Onyx lesson:
per-document failures, not crashed runs). A scan that cannot see the whole source (a folder that
cannot be listed, an API that fails mid-listing) raises instead of ending early: only a scan that
finished may lead the engine to delete documents it did not see.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from core.acl import Acl
from core.config import Config, ConnectorConfig
from core.models import Document
from core.secrets import SecretStore


@dataclass(frozen=True)
class Skipped:
    """Deliberately not indexed (no access rule, empty, too large, unsupported type)."""

    source_id: str
    reason: str


@dataclass(frozen=True)
class Failed:
    """Could not be read or validated (corrupt PDF, invalid UTF-8, bad access rule)."""

    source_id: str
    reason: str


ScanItem = Document | Skipped | Failed


@dataclass(frozen=True)
class GroupSnapshot:
    """All group memberships the source defines: group principal -> member emails."""

    groups: dict[str, frozenset[str]]


class Connector(Protocol):
    """A configured source instance that scans. ``list_ids`` and ``close`` have defaults, which
    a connector that subclasses this protocol inherits."""

    @property
    def source(self) -> str:
        """Stable name of this source instance (documents' ``source`` field)."""
        ...

    @property
    def group_namespace(self) -> str:
        """The prefix of every group this source defines (``group:files:<instance>:``): the
        engine writes no membership outside it (core.memberships)."""
        ...

    def scan(self) -> Iterator[ScanItem]:
        """Every candidate document of the source, in a stable order."""
        ...

    def groups(self) -> GroupSnapshot:
        """Group memberships defined by the source. Raises on a broken definition: the engine
        then keeps the memberships it has rather than dropping them."""
        ...

    def list_ids(self) -> Iterator[str]:
        """Every candidate document's source id (deletion detection). Default: the ids of a
        whole scan; a connector that can list without reading overrides it."""
        for item in self.scan():
            yield item.source_id

    def close(self) -> None:
        """Release what the connector holds (sessions, worker processes). Default: nothing."""
        return


# -- the sync contract ----------------------------------------------------------------------
#
# A connector that can follow its source incrementally (Confluence, SharePoint) implements
# SyncConnector; the sync engine (connectors.sync) drives it. A plain Connector that can only
# scan everything is adapted by connectors.sync.full_scan.


@dataclass(frozen=True)
class Deleted:
    """The document is gone from the source (trashed, archived, purged, out of scope)."""

    source_id: str
    reason: str = "deleted at the source"


@dataclass(frozen=True)
class CheckpointMark:
    """Everything yielded before this mark is to be made durable; then ``state`` is saved, and
    a later run (after a crash, too) passes it back to ``changes``. JSON-serialisable."""

    state: dict[str, Any]


@dataclass(frozen=True)
class Unchanged:
    """The document's content is as the checkpoint last saw it (the source compared a
    fingerprint instead of reading it again); ``acl`` is its current ACL. ``read`` produces the
    whole document, for an engine that does not hold a current copy of it."""

    source_id: str
    acl: Acl
    # The content hash of the document the checkpoint saw: an engine whose row holds another
    # (a pass wrote a newer version, then the source went back) must read it again.
    content_hash: str
    read: Callable[[], Document | Skipped | Failed] = field(compare=False, repr=False)


Change = Document | Unchanged | Deleted | Skipped | Failed | CheckpointMark


@dataclass(frozen=True)
class AclRead:
    """A document's current ACL, re-read without its content."""

    source_id: str
    acl: Acl


AclItem = AclRead | Deleted | Skipped | Failed


class SyncConnector(Protocol):
    """A source followed by the sync engine. Every method that lists raises when it cannot list
    completely: the engine then changes nothing it cannot vouch for (no deletions, kept
    memberships, kept ACLs). ``lists_everything`` and ``close`` have defaults, which a
    connector that subclasses this protocol inherits."""

    @property
    def source(self) -> str: ...

    @property
    def lists_everything(self) -> bool:
        """Whether every ``changes`` run lists the whole source (a folder scan): what a run that
        finished did not yield is then gone. Default: no; deletions come from the source and
        from the full job's ``list_ids``."""
        return False

    @property
    def group_namespace(self) -> str:
        """The prefix of every group ``groups`` may return (see Connector.group_namespace)."""
        ...

    def changes(self, checkpoint: Mapping[str, Any] | None) -> Iterator[Change]:
        """Documents changed (and deleted, where the source says so) since ``checkpoint``; all
        of them when it is None. Yields a CheckpointMark now and then (at least at the end of
        a run that finished): resuming from it must not lose a change."""
        ...

    def list_ids(self) -> Iterator[str]:
        """Every source id that should be in the index now (deletion detection)."""
        ...

    def groups(self, referenced: frozenset[str]) -> GroupSnapshot:
        """Memberships of at least the groups in ``referenced`` (group principals that indexed
        ACLs of this source name)."""
        ...

    def read_acls(self, source_ids: Sequence[str]) -> Iterator[AclItem]:
        """The current ACL of each given document (or why it has none), without its content."""
        ...

    def close(self) -> None:
        """Release sessions and worker processes: the engine is done with this connector.
        Default: nothing to release."""
        return


S = TypeVar("S", bound=ConnectorConfig)


@dataclass(frozen=True)
class Source(Generic[S]):
    """A source type as its package declares it (``connectors/<type>/source.py``): its settings
    model and how one configured instance is built; ``connectors.registry`` lists them."""

    settings: type[S]
    build: Callable[[str, S, Config, SecretStore], SyncConnector]
