"""The connectors layer's errors (see core.errors for the whole tree).

    SourceError
    ├── SourceUnavailable   the source did not answer usefully (down, rate limited past the
    │                       retries, garbage): the run fails and is retried, nothing is deleted
    ├── SourceAuthError     the source refused the credentials: fix the secret
    ├── DocumentUnreadable  one document cannot be read or parsed: it alone is skipped
    ├── AclUnavailable      one document's permissions cannot be read: it is not (re)indexed
    └── SyncInterrupted     the run stopped (lease lost, stop requested): resumed next time
"""

from __future__ import annotations

from core.errors import LoreError


class SourceError(LoreError):
    """A source (files, Confluence, ...) or one of its documents could not be read."""
