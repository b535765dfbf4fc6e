"""Structured JSON logs, one object per line, with secrets redacted.

Each line has ``ts`` (ISO 8601 UTC), ``level``, ``logger``, ``message``, ``request_id`` (from
``request_context``; null outside a request), every ``extra=`` field, and ``exc`` (the
traceback) when an exception is logged. Redaction covers all of them: values the secret store
handed out (the ``Redactor`` shared with it), well-known credential shapes, and the value of any
extra whose key names a credential (``password``, ``api_key``, ``authorization``, ...).

The redaction lives in the formatter of the handler installed here. ``configure_logging``
therefore removes plain ``StreamHandler``s from the root logger (what ``logging.basicConfig``
installs), which would print the same records unredacted; other handler types (files set up on
purpose, test capture) are left alone.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any, TextIO

from core.secrets.redaction import REDACTED, SENSITIVE_KEY, Redactor
from core.sections import LogLevel

_request_id: ContextVar[str | None] = ContextVar("lore_request_id", default=None)

MAX_REQUEST_ID = 128

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName",
}
_OWN_FIELDS = ("ts", "level", "logger", "message", "request_id", "exc", "stack")


def current_request_id() -> str | None:
    return _request_id.get()


def bind_request_id(request_id: str) -> Token[str | None]:
    """Set the request id for the current context; undo with ``reset_request_id(token)``."""
    return _request_id.set(request_id[:MAX_REQUEST_ID])


def reset_request_id(token: Token[str | None]) -> None:
    _request_id.reset(token)


@contextlib.contextmanager
def request_context(request_id: str | None = None) -> Iterator[str]:
    """Tag every log line inside the block (and tasks it starts) with ``request_id``; a new
    random id when none is given. Yields the id in effect."""
    token = bind_request_id(request_id or uuid.uuid4().hex)
    try:
        yield _request_id.get() or ""
    finally:
        _request_id.reset(token)


class JsonFormatter(logging.Formatter):
    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        # Without a store's redactor the well-known patterns still apply.
        self.redactor = redactor if redactor is not None else Redactor()

    def format(self, record: logging.LogRecord) -> str:
        redact = self.redactor.redact
        request_id = _request_id.get()
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": redact(request_id) if request_id is not None else None,
        }
        for key, value in vars(record).items():
            if key in _RECORD_ATTRS or key.startswith("_"):
                continue
            # An extra may not overwrite the fixed fields; it keeps its value under key_.
            name = f"{key}_" if key in _OWN_FIELDS else redact(key)
            entry[name] = REDACTED if SENSITIVE_KEY.fullmatch(key) else self._clean(value)
        # The record's own exc_text cache is neither read nor written: it would hold (or
        # hand other handlers) an unredacted traceback.
        if record.exc_info and record.exc_info[0] is not None:
            entry["exc"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exc"] = redact(record.exc_text)
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False, default=str)

    def _clean(self, value: Any, depth: int = 0) -> Any:
        """A JSON-ready copy of an extra value, every string in it redacted."""
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, str):
            return self.redactor.redact(value)
        if depth < 8:
            if isinstance(value, Mapping):
                return {
                    self.redactor.redact(str(k)): (
                        REDACTED if SENSITIVE_KEY.fullmatch(str(k)) else self._clean(v, depth + 1)
                    )
                    for k, v in value.items()
                }
            if isinstance(value, list | tuple | set | frozenset):
                return [self._clean(v, depth + 1) for v in value]
        try:
            text = str(value)
        except Exception:  # noqa: BLE001 - a broken __str__ must not lose the log line
            text = f"<unprintable {type(value).__name__}>"
        return self.redactor.redact(text)


class _LoreHandler(logging.StreamHandler[TextIO]):
    """Marks the handler configure_logging owns, so that a second call replaces it."""


def configure_logging(level: LogLevel, redactor: Redactor | None, stream: TextIO | None = None) -> None:
    """Send every log record, as redacted JSON lines, to ``stream`` (stderr by default).

    Idempotent: a second call replaces the handler of the first (new level, redactor, stream).
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _LoreHandler) or type(handler) is logging.StreamHandler:
            root.removeHandler(handler)
            if isinstance(handler, _LoreHandler):
                handler.close()
    handler = _LoreHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter(redactor))
    root.addHandler(handler)
    root.setLevel(level)


class Throttle:
    """At most one ``due()`` per ``interval`` seconds: an outage that fails every request is
    logged once a minute, not once per request. ``reset()`` when it is over, so that the next
    outage is logged at once."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._last: float | None = None

    def due(self) -> bool:
        now = self._clock()
        if self._last is not None and now - self._last < self.interval:
            return False
        self._last = now
        return True

    def reset(self) -> None:
        self._last = None
