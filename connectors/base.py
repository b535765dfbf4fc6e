"""The contract between a source and the ingest engine.

A connector scans its source and yields one :class:`ScanItem` per candidate document: the
document itself, or the reason it was skipped or could not be read. A broken document never
ends a scan: the engine records the failure and goes on with the rest (the Onyx lesson:
per-document failures, not crashed runs). A scan that cannot see the whole source (a folder that
cannot be listed, an API that fails mid-listing) raises instead of ending early: only a scan that
finished may lead the engine to delete documents it did not see.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from core.models import Document


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
    """A configured source instance."""

    @property
    def source(self) -> str:
        """Stable name of this source instance (documents' ``source`` field)."""
        ...

    def scan(self) -> Iterator[ScanItem]:
        """Every candidate document of the source, in a stable order."""
        ...

    def groups(self) -> GroupSnapshot:
        """Group memberships defined by the source. Raises on a broken definition: the engine
        then keeps the memberships it has rather than dropping them."""
        ...
