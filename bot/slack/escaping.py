"""Slack mrkdwn's escaping and safe-URL policy: the rules every piece of mrkdwn Lore writes obeys.

The input is untrusted: answer text is model output or sentences quoted from documents, titles
and URLs come from documents. The one rule that keeps it safe: Slack only acts on ``<...>``
(links, ``<!channel>``, ``<@U123>``, ``<!subteam^...>``), so every ``<`` in Lore's mrkdwn is one
:func:`link` wrote around a URL that :func:`safe_url` checked (http, https or mailto), and every
other ``&``, ``<``, ``>`` is escaped as Slack documents (``&amp;``, ``&lt;``, ``&gt;``; nothing
else is entity-encoded, Slack decodes only those three).

* ``@channel``, ``@here``, ``@everyone`` words get an invisible WORD JOINER after the ``@``.
  Slack only notifies for the ``<!...>`` forms (which cannot occur), but a client, an
  ``link_names`` flag or a future parser will not find the bare word either.
* Links: ``<url|label>`` only for http(s) and mailto URLs; other schemes (``javascript:``,
  ``data:``, relative paths) keep their label and lose the link. In the URL, ``|``, ``<``, ``>``
  and whitespace are percent-encoded and ``&`` is ``&amp;``; in the label a ``|`` becomes a
  full-width ``｜`` (Slack splits ``<url|label>`` at the first bar).
* Code is only escaped (Slack shows ``&lt;`` as ``<`` inside code too); a run of three
  backticks outside a code block is broken with ZERO WIDTH SPACEs so it cannot open one.
"""

from __future__ import annotations

import re

SECTION_TEXT_MAX = 3000  # a section's (and any mrkdwn text object's) text, per Block Kit
URL_MAX = 1500  # longer URLs (as written into the link) are not linked
LABEL_MAX = 500  # plain-text characters of a label we shorten (document titles)
LINK_LABEL_MAX = 1000  # mrkdwn characters of a label inside <url|label>: one link < 2,600

WORD_JOINER = "\u2060"
ZWSP = "\u200b"

_BROADCAST = re.compile(r"(?<!\w)@(?=(?:channel|here|everyone|group)\b)", re.IGNORECASE)
# The same, for converted text: link targets (``<url|``) are left alone.
_BROADCAST_OUTSIDE_URLS = re.compile(r"(<[^|<>\n]*\|)|" + _BROADCAST.pattern, re.IGNORECASE)
_LINKABLE = re.compile(r"(?:https?://[^\s/?#<>|\\]+|mailto:[^\s<>|]+)", re.IGNORECASE)
_BACKTICK_RUN = re.compile(r"`{3,}")


def slack_len(text: str) -> int:
    """Length as Slack may count it (UTF-16 code units): never less than ``len``."""
    return len(text.encode("utf-16-le")) // 2


def escape(text: str) -> str:
    """Plain text -> mrkdwn that shows exactly that text and can trigger nothing."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub("@" + WORD_JOINER, text)


def unescape(text: str) -> str:
    """The inverse of :func:`escape` (for text this module escaped)."""
    text = text.replace("@" + WORD_JOINER, "@")
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def safe_url(url: str) -> str | None:
    """The URL ready to sit inside ``<...|...>``, or None when it must not be linked."""
    url = url.strip()
    if not url or len(url) > URL_MAX or not _LINKABLE.match(url):
        return None
    if any(ord(c) < 32 or ord(c) == 127 for c in url):
        return None
    url = re.sub(r"\s", "%20", url)
    url = url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E").replace("&", "&amp;")
    return url if len(url) <= URL_MAX else None


def link_label(text: str) -> str:
    """Plain text -> an escaped, single-line label for ``<url|label>``."""
    text = " ".join(text.split())
    if len(text) > LABEL_MAX:
        text = text[: LABEL_MAX - 1].rstrip() + "…"
    return escape(text).replace("|", "｜")


def link(url: str, label: str) -> str:
    """``<url|label>`` when the URL may be linked, else just the label. ``label`` is mrkdwn
    already (escaped, one line); an empty label shows the URL."""
    label = " ".join(label.split()).replace("|", "｜") or link_label(url)
    target = safe_url(url)
    if target is None:
        return label
    if slack_len(label) > LINK_LABEL_MAX:  # keep every link small enough to split around
        return f"{label} (<{target}|link>)"
    return f"<{target}|{label}>"


def code_block(code: str) -> str:
    """Code as a mrkdwn code block: escaped, and unable to close the block early."""
    body = break_fences(escape(code))
    return "```\n" + (body if body.strip() else " ") + "\n```"


def break_fences(mrkdwn: str) -> str:
    """Runs of three or more backticks, each broken so that none can open a code block."""
    return _BACKTICK_RUN.sub(lambda m: ZWSP.join(m.group()), mrkdwn)


def defuse(mrkdwn: str) -> str:
    """Broadcast words in converted mrkdwn defused, link targets left alone."""
    return _BROADCAST_OUTSIDE_URLS.sub(lambda m: m.group(1) or "@" + WORD_JOINER, mrkdwn)
