"""The connectors layer's errors (see core.errors for the whole tree).

    SourceError
    ├── SourceUnavailable   the source did not answer usefully (down, rate limited past the
    │                       retries, garbage): the run fails and is retried, nothing is deleted
    ├── SourceAuthError     the source refused the credentials: fix the secret
    ├── DocumentUnreadable  one document cannot be read or parsed: it alone is skipped
    ├── AclUnavailable      one document's permissions cannot be read: it is not (re)indexed
    └── SyncInterrupted     the run stopped (lease lost, stop requested): resumed next time

Each source's own errors subclass the one that says what they mean for the run, keeping a
builtin base where callers catch them as such (a parse error is also a ValueError, an
incomplete folder listing an OSError). The HTTP layer's errors are in connectors.http.errors.
"""

from __future__ import annotations

from core.errors import LoreError


class SourceError(LoreError):
    """A source (files, Confluence, ...) or one of its documents could not be read."""


class SourceUnavailable(SourceError):
    """The source did not answer usefully: the run fails and is retried; nothing is deleted."""


class SourceAuthError(SourceError):
    """The source refused the credentials (or their permission): fix the secret or its grants."""


class DocumentUnreadable(SourceError):
    """One document cannot be read or parsed: it alone is skipped (a ``Failed`` item)."""


class AclUnavailable(SourceError):
    """One document's permissions cannot be established: it is not (re)indexed, so nobody
    reads it through Lore."""


class SyncInterrupted(SourceError):
    """The run stopped before its end (lease lost, stop requested): resumed next time."""
