"""The HTTP layer's errors: a failed request, and the cases a caller may handle on their own.

    SourceUnavailable (connectors.errors)
    └── HttpError            a request failed: no answer, a 429/5xx past the retries, or a
        │                    status the caller did not expect (400, 410, ...)
        ├── HttpAuthError    401/403, never retried; also a SourceAuthError (fix the secret)
        ├── HttpNotFound     404, never retried: the caller knows whether that means "gone"
        ├── BadResponse      a 2xx whose body is not what the API documents, or a next link
        │                    to another origin or one already followed
        └── DownloadTooLarge a download over the caller's cap; also a DocumentUnreadable
                             (that document alone is skipped)

Left unhandled, every one of them fails the run and deletes nothing (SourceUnavailable). Each
carries ``status`` (None when no response came), ``path`` (the URL path, never the query or
the host's credentials), ``retryable`` and ``retry_after`` (seconds the server asked for).

A source's client raises its own subclasses instead (``ConfluenceError`` and its family) by
handing the HTTP client an :class:`ErrorKinds`.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.errors import DocumentUnreadable, SourceAuthError, SourceUnavailable


class HttpError(SourceUnavailable):
    """A failed request; see the module docstring for the attributes."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        path: str = "",
        retry_after: float | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.path = path
        self.retry_after = retry_after
        self.retryable = retryable


class HttpAuthError(HttpError, SourceAuthError):
    """401/403: wrong or expired credentials, or no permission. Never retried."""


class HttpNotFound(HttpError):
    """404: unknown, deleted, or hidden from the client's account. Never retried."""


class BadResponse(HttpError):
    """A 2xx whose body is not what the API documents (an HTML page, a JSON array), or a next
    link to another origin or one already followed."""


class DownloadTooLarge(HttpError, DocumentUnreadable):
    """A download larger than the caller's ``max_bytes``."""


@dataclass(frozen=True)
class ErrorKinds:
    """The classes a client raises for each case; a source passes its own subclasses."""

    failed: type[HttpError] = HttpError
    auth: type[HttpError] = HttpAuthError
    not_found: type[HttpError] = HttpNotFound
    bad_response: type[HttpError] = BadResponse
    too_large: type[HttpError] = DownloadTooLarge


HTTP_ERRORS = ErrorKinds()
