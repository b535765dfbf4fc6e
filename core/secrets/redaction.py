"""Redaction of secrets from text that leaves the process (logs, above all).

Two layers: values a secret store actually handed out (registered with a ``Redactor``, which the
store and the logging setup share; no global registry, as several stores or test cases may live
in one process) and patterns of well-known credentials, which catch tokens that never went
through a store (a token pasted into a config URL, a header echoed in an error message).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

REDACTED = "[REDACTED]"

# Shorter values would shred ordinary words in every log line; such a "secret" is not one.
MIN_SECRET_LENGTH = 6

log = logging.getLogger("lore.secrets")

# Characters that may not precede a token, so that "task-..." is not read as an "sk-" key.
_START = r"(?<![A-Za-z0-9_-])"

# (pattern, replacement); replacements keep the non-secret context (scheme, user, header name).
PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Private keys in PEM form.
    (
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)",
            re.DOTALL,
        ),
        REDACTED,
    ),
    # Slack bot/user/app/refresh tokens: xoxb-, xoxp-, xoxa-, xoxe-, xoxe.xoxp-, xapp-.
    (re.compile(_START + r"(?:xox[a-z](?:\.xox[a-z])?|xapp)-[A-Za-z0-9-]{4,}"), REDACTED),
    # Groq API keys.
    (re.compile(_START + r"gsk_[A-Za-z0-9]{10,}"), REDACTED),
    # OpenAI-style keys (sk-..., sk-proj-...).
    (re.compile(_START + r"sk-[A-Za-z0-9_-]{16,}"), REDACTED),
    # AWS access key ids.
    (re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"), REDACTED),
    # JWTs: header.payload.signature, the header being base64url JSON ("eyJ" = '{"').
    (re.compile(_START + r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), REDACTED),
    # Authorization / Proxy-Authorization header values, whatever the scheme.
    (
        re.compile(
            r"(?i)(\b(?:proxy-)?authorization\b[\"']?\s*[:=]\s*[\"']?"
            r"(?:(?:bearer|basic|token|digest|negotiate)\s+)?)[^\s\"',;\\]+"
        ),
        r"\1" + REDACTED,
    ),
    # Bearer tokens anywhere else.
    (re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1" + REDACTED),
    # Passwords in URLs: scheme://user:PASSWORD@host.
    (
        # Bounded repeats: a long run of "a-a-a-..." must not make this quadratic.
        re.compile(r"(?i)(\b[a-z][a-z0-9+.-]{0,30}://[^\s:/@\"'\\]{0,256}:)[^\s/@\"'\\]{1,256}(@)"),
        r"\1" + REDACTED + r"\2",
    ),
    # password=..., "client_secret": "...", api_key: ... (key/value text and JSON).
    (
        re.compile(
            r"(?i)((?<![A-Za-z0-9])(?:[a-z0-9]+[_-])?"
            r"(?:password|passwd|pwd|secret|api[_-]?key|token)[\"']?\s*[:=]\s*[\"']?)"
            r"(?![\"'\s,;&]|\[REDACTED\])[^\s\"',;&\\]+"
        ),
        r"\1" + REDACTED,
    ),
)

# Keys of structured fields (log extras) whose value is a credential whatever it looks like.
SENSITIVE_KEY = re.compile(
    r"(?i)(?:.*[_-])?(?:password|passwd|pwd|secret|api[_-]?key|token|authorization|cookie|"
    r"set-cookie|credentials?)"
)


def redact_patterns(text: str) -> str:
    """Replace well-known credential shapes in ``text``."""
    for pattern, replacement in PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _variants(value: str) -> set[str]:
    """Forms a value takes in text: raw, URL-encoded, and escaped by repr() or JSON."""
    escaped = value.encode("unicode_escape").decode("ascii")  # repr() without the quotes
    forms = {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1],
             json.dumps(value, ensure_ascii=False)[1:-1], repr(value)[1:-1], escaped,
             escaped.replace("'", "\\'"), escaped.replace('"', '\\"')}
    return {f for f in forms if len(f) >= MIN_SECRET_LENGTH}


class Redactor:
    """Replaces registered secret values (and well-known credential patterns) with [REDACTED].

    Thread-safe: a store may register from a worker thread while the event loop logs.
    """

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for value in values:
            self.register(value)

    def register(self, value: str, *, name: str | None = None) -> None:
        """Remember ``value`` so that it is redacted from now on. ``name`` (the secret's name,
        never its value) only improves the warning about values too short to redact."""
        if len(value) < MIN_SECRET_LENGTH:
            if value:
                log.warning(
                    "secret %s is shorter than %d characters and cannot be redacted from logs",
                    repr(name) if name else "(unnamed)", MIN_SECRET_LENGTH,
                )
            return
        forms = _variants(value)
        with self._lock:
            if forms <= self._values:
                return
            self._values |= forms
            # Longest first, so that a secret containing another one is replaced whole.
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def redact(self, text: str) -> str:
        pattern = self._pattern  # one read: register() swaps the compiled pattern atomically
        if pattern is not None:
            text = pattern.sub(REDACTED, text)
        return redact_patterns(text)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"<Redactor: {len(self._values)} registered forms>"
