"""Reading a streamed response body under a byte cap.

One rule: never read more than the cap. A ``Content-Length`` over it is refused before the body
is read, and a body without one (or lying about it) is refused as soon as more than the cap
has arrived; the rest stays unread, and closing the unread response drops the connection.
"""

from __future__ import annotations

import requests

from .errors import HttpError

CHUNK = 64 * 1024


def read_bounded(
    response: requests.Response, max_bytes: int, *, shown: str, what: str,
    too_large: type[HttpError],
) -> bytes:
    """The body of ``response`` (a ``what`` such as "attachment", from path ``shown``), or
    ``too_large`` when it holds more than ``max_bytes``. Transport errors while reading are
    the caller's to wrap."""
    status = response.status_code
    declared = response.headers.get("Content-Length", "").strip()
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large(
            f"GET {shown} -> {status}: the {what} is {int(declared)} bytes, "
            f"more than the limit of {max_bytes}",
            status=status,
            path=shown,
        )
    received = bytearray()
    for chunk in response.iter_content(chunk_size=CHUNK):
        received += chunk
        if len(received) > max_bytes:
            raise too_large(
                f"GET {shown} -> {status}: the {what} is larger than the limit "
                f"of {max_bytes} bytes (stopped reading)",
                status=status,
                path=shown,
            )
    return bytes(received)


def read_some(response: requests.Response, limit: int) -> bytes:
    """Up to ``limit`` bytes of a streamed body (an error's, for its message); a transport
    error only shortens it."""
    received = bytearray()
    try:
        for chunk in response.iter_content(chunk_size=min(limit, CHUNK)):
            received += chunk
            if len(received) >= limit:
                break
    except requests.RequestException:
        pass  # the status is what matters; the message is a nicety
    return bytes(received[:limit])
