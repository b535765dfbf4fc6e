"""The text of a client's errors: one line, at most MAX_MESSAGE characters, never a secret.

One rule: whatever a server or a transport says passes through :meth:`Scrubber.clean` before it
reaches an exception, and every error leaving the client passes through
:meth:`Scrubber.redact` once more, whichever module built it (a link's path comes from the
server too). That removes the client's own secrets, in every form they travel in (registered
with a core.secrets.redaction.Redactor), and well-known credential shapes (a server echoing
the Authorization header, a token pasted in a message). Messages name the URL path only, never
the query or the host's credentials.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

import requests

from core.secrets.redaction import Redactor

MAX_MESSAGE = 300  # characters of a server's message kept in ours
# A URL's query in a transport's words (requests says "Max retries exceeded with url: /p?q=..."):
# from the "?" to the end of the URL. A pre-signed link's signature travels there.
_QUERY = re.compile(r"(?<=[^\s?'\"(])\?[^\s'\"()]+")

MessageOf = Callable[[Any], str]
"""A service's own words in an error body, from its parsed JSON (None when it is not JSON)."""


def no_message(data: Any) -> str:
    """For services whose error bodies say nothing worth quoting: the reason phrase is used."""
    return ""


class Scrubber:
    """Cleans text for an error message; ``secrets`` are the values the client sends (a token
    and, say, its basic-auth header value), ``name`` names them in redaction warnings."""

    def __init__(self, secrets: Iterable[str], name: str) -> None:
        self._redactor = Redactor()
        for value in secrets:
            self._redactor.register(value, name=name)

    def clean(self, text: str) -> str:
        """One line, without secrets or credential shapes, at most MAX_MESSAGE characters."""
        text = self.redact(" ".join(text.split()))
        return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."

    def redact(self, text: str) -> str:
        """``text`` without secrets or credential shapes, otherwise as it is."""
        return self._redactor.redact(text)

    def transport(self, text: str) -> str:
        """What a transport error says (``requests``' message, which quotes the URL with its
        query), cleaned and without any URL's query."""
        return self.clean(_QUERY.sub("?…", text))


def error_text(
    response: requests.Response, body: bytes, message_of: MessageOf, scrubber: Scrubber
) -> str:
    """What an error response says: the service's message (``message_of`` on its JSON body),
    else the reason phrase, with the content type when the body is not JSON."""
    data: Any = None
    try:
        data = json.loads(body) if body else None
    except ValueError:
        pass
    message = message_of(data)
    if not message.strip():
        message = response.reason or "error"
        if data is None and body:
            message += f" ({response.headers.get('Content-Type') or 'no content type'})"
    return scrubber.clean(message)


def json_kind(data: Any) -> str:
    """``a JSON array``, ``null``, ``a JSON str``: what a body held instead of an object."""
    if isinstance(data, list):
        return "a JSON array"
    if data is None:
        return "null"
    return f"a JSON {type(data).__name__}"
