"""SharePoint's errors, in the HTTP layer's tree (connectors.http.errors), and the one place
that reads Microsoft Graph's and SharePoint REST's error bodies.

    HttpError
    └── SharePointError            a failed Graph or SharePoint REST request
        ├── SharePointAuthError    401/403, or no token (also a SourceAuthError)
        ├── SharePointNotFound     404: deleted, or not visible to the app
        ├── SharePointBadResponse  a 2xx that is not what the API documents
        └── FileTooLarge           a file over ``max_file_mb``
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


class SharePointError(HttpError):
    """A failed SharePoint (Graph or REST) request."""


class SharePointAuthError(SharePointError, HttpAuthError):
    """401/403 (no grant for the site under Sites.Selected, a secret-based token on REST), or
    Microsoft Entra refused a token."""


class SharePointNotFound(SharePointError, HttpNotFound):
    """404: the item, drive or site is gone or hidden from the app."""


class SharePointBadResponse(SharePointError, BadResponse):
    """A 2xx body that is not what Graph or SharePoint REST documents."""


class FileTooLarge(SharePointError, DownloadTooLarge):
    """A file over the connector's size cap."""


SHAREPOINT_ERRORS = ErrorKinds(
    failed=SharePointError,
    auth=SharePointAuthError,
    not_found=SharePointNotFound,
    bad_response=SharePointBadResponse,
    too_large=FileTooLarge,
)


def microsoft_message(data: Any) -> str:
    """Graph's ``{"error": {"code", "message"}}``, or SharePoint REST's ``odata.error``
    (``{"odata.error": {"code", "message": {"value"}}}``); "" when there is none."""
    if not isinstance(data, dict):
        return ""
    error = data.get("error") or data.get("odata.error")
    if not isinstance(error, dict):
        return ""
    code = str(error.get("code") or "")
    message = error.get("message")
    if isinstance(message, dict):
        message = message.get("value")
    text = str(message or "")
    return f"{code}: {text}" if code and text else code or text
