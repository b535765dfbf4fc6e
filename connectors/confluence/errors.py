"""Confluence's errors, in the HTTP layer's tree (connectors.http.errors), and the one place
that reads Atlassian's error bodies.

    HttpError
    └── ConfluenceError            a failed Confluence request (a 400, a 5xx past the retries,
        │                          a dropped connection, the client closed)
        ├── ConfluenceAuthError    401/403 (also HttpAuthError, so a SourceAuthError)
        ├── ConfluenceNotFound     404: unknown, purged, or unreadable by the integration's user
        ├── ConfluenceBadResponse  a 2xx that is not what the API documents
        └── AttachmentTooLarge     an attachment over the caller's ``max_bytes``

Messages read ``GET <path> -> <status>: <Atlassian's message>``.
"""

from __future__ import annotations

from typing import Any

from connectors.http.errors import (
    BadResponse,
    DownloadTooLarge,
    ErrorKinds,
    HttpAuthError,
    HttpError,
    HttpNotFound,
)


class ConfluenceError(HttpError):
    """A failed Confluence request. ``status`` is the HTTP status (None for transport errors);
    ``retryable`` and ``retry_after`` (seconds the server asked for) drive the retries."""


class ConfluenceNotFound(ConfluenceError, HttpNotFound):
    """404: unknown, purged, or (on Cloud) unreadable by the integration's user."""


class ConfluenceAuthError(ConfluenceError, HttpAuthError):
    """401/403: wrong or expired credentials, or no permission. Never retried."""


class ConfluenceBadResponse(ConfluenceError, BadResponse):
    """A 2xx whose body is not what the API documents (an HTML page, a JSON array, a next link
    to another host or one already followed)."""


class AttachmentTooLarge(ConfluenceError, DownloadTooLarge):
    """An attachment larger than the caller's ``max_bytes``."""


CONFLUENCE_ERRORS = ErrorKinds(
    failed=ConfluenceError,
    auth=ConfluenceAuthError,
    not_found=ConfluenceNotFound,
    bad_response=ConfluenceBadResponse,
    too_large=AttachmentTooLarge,
)


def atlassian_message(data: Any) -> str:
    """Atlassian's JSON error message: ``message`` (Confluence REST v1), else ``errorMessages``
    or ``errors`` as other Atlassian APIs send them; "" when there is none."""
    if not isinstance(data, dict):
        return ""
    if isinstance(data.get("message"), str):
        return str(data["message"])
    if isinstance(data.get("errorMessages"), list):
        return "; ".join(str(m) for m in data["errorMessages"])
    if isinstance(data.get("errors"), list):
        return "; ".join(
            str(e.get("title") or e.get("detail") or e.get("message") or "")
            if isinstance(e, dict)
            else str(e)
            for e in data["errors"]
        )
    return ""
