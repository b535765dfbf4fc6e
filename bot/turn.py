"""The turn contract: what a chat surface hands the conversation service, and what it gets back.

A leaf module: every chat adapter (web chat, Slack, Teams, the ``lore ask`` command), identity
and audience resolution and the conversation service import these types from here, and this
module imports nothing of theirs. Adapters never import ``retrieval/``: the answer vocabulary
they render (``Delta``, ``Reset``, ``Citation``) is re-exported here.

Question path: adapter -> :class:`Turn` -> identity (:class:`Identity`) -> principals
(:data:`PrincipalsFor`) -> audience (:class:`Audience`) -> search -> answer -> a stream of
:data:`Event` -> adapter renders it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from retrieval.answer.base import NO_SOURCES_ANSWER, Citation, Delta, Reset

__all__ = [
    "CLOSEST_LABEL",
    "FELL_BACK_NOTE",
    "NO_SOURCES_ANSWER",
    "STAGE_TEXT",
    "WHO_TO_ASK_LABEL",
    "Answer",
    "Audience",
    "AudienceResolver",
    "Citation",
    "ClosestPage",
    "Delta",
    "Event",
    "Finished",
    "Identity",
    "IdentityResolver",
    "Kind",
    "Notice",
    "PrincipalsFor",
    "Refused",
    "Reset",
    "Status",
    "Turn",
    "who_to_ask",
    "who_to_ask_text",
]


class Kind(str, enum.Enum):
    """Who can read a reply posted where the question was asked."""

    DIRECT = "direct"  # the asker alone (a DM, a 1:1 chat, the terminal)
    GROUP = "group"  # a group chat / multi-person DM
    CHANNEL = "channel"


@dataclass(frozen=True)
class Turn:
    platform: str  # "webchat", "slack", "teams", "cli"
    workspace: str  # Slack team / enterprise id, Teams tenant id
    user_id: str  # the platform's user id
    kind: Kind
    conversation_id: str
    thread_id: str
    text: str
    private: bool = False  # answer over the asker's own access, delivered only to them


@dataclass(frozen=True)
class Identity:
    email: str
    org_member: bool  # full member of the company (not a guest, not from another organisation)
    display_name: str = ""
    # Group principals the chat platform's directory vouches for at question time (Teams: the
    # user's Microsoft Entra groups, ``group:aad:<object id>``), added to the membership store's.
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Audience:
    """Who can read a reply posted in the conversation."""

    includes_outsiders: bool  # guests, external users, shared channels
    # Identities of everyone in the conversation, when ``includes_outsiders`` (None: unknown).
    members: tuple[Identity, ...] | None = None


UNKNOWN_AUDIENCE = Audience(includes_outsiders=True, members=None)  # assume the worst

# Identity -> the principals it holds (``user:<email>``, groups, ``org:members``).
PrincipalsFor = Callable[[Identity], list[str]]


class IdentityResolver(Protocol):
    async def resolve(self, turn: Turn) -> Identity | None:
        """The asker's identity, or None when it cannot be established (fail closed)."""
        ...


class AudienceResolver(Protocol):
    async def audience(self, turn: Turn) -> Audience:
        """Raise or return :data:`UNKNOWN_AUDIENCE` when membership cannot be determined."""
        ...


@dataclass(frozen=True)
class ClosestPage:
    """A page the asker may read that came closest to a question nothing answered: shown under
    the honest reply, clearly as not answering it. ``owner`` is who the source records as its
    owner or last editor (None when it records nobody)."""

    title: str
    url: str
    source_id: str
    heading_path: tuple[str, ...] = ()
    updated_at: datetime | None = None
    owner: str | None = None


# The wording every surface shows over the closest pages and the people to ask (the web chat
# gets them in the answer's JSON, so there is one copy).
CLOSEST_LABEL = "These pages you can read come closest, but they may not answer it:"
WHO_TO_ASK_LABEL = "Who may know:"


def who_to_ask(pages: tuple[ClosestPage, ...]) -> list[tuple[str, list[str]]]:
    """Each owner of the closest pages with the titles of the pages they own, in page order."""
    owners: dict[str, list[str]] = {}
    for page in pages:
        if page.owner:
            owners.setdefault(page.owner, []).append(page.title)
    return list(owners.items())


def who_to_ask_text(pages: tuple[ClosestPage, ...], shorten: Callable[[str], str] = str) -> str:
    """The people to ask as one line, "Name (Title, Title); Name (Title)", each name and title
    passed through ``shorten`` (a surface's length limit); "" when the pages record no owner."""
    return "; ".join(f"{shorten(owner)} ({', '.join(shorten(t) for t in titles)})"
                     for owner, titles in who_to_ask(pages))


@dataclass(frozen=True)
class Answer:
    text: str
    citations: tuple[Citation, ...]
    found_sources: bool
    restricted_to_audience: bool
    provider: str
    fell_back: bool
    thread_id: str
    note: str = ""
    timing_ms: dict[str, float] = field(default_factory=dict)
    # Every cited page last changed before answers.stale_after_days: when the newest of them did,
    # and the sentence every surface shows under the answer.
    stale_since: datetime | None = None
    stale_note: str = ""
    # Nothing answered (found_sources is False): the pages that came closest, at most three.
    closest: tuple[ClosestPage, ...] = ()
    # Why there is no answer: "gate" (no permitted passage looked likely to answer, so no
    # provider was asked), "declined" (the provider found no answer in the passages), "none"
    # (no permitted passage at all); "" when there is an answer.
    not_found_reason: str = ""

    def as_json(self) -> dict[str, Any]:
        """The answer as the web chat's ``final`` event and ``lore ask --json`` print it."""
        return {
            "text": self.text,
            "citations": [
                {"number": c.number, "title": c.title, "url": c.url, "source_id": c.source_id,
                 "heading_path": list(c.heading_path),
                 "updated_at": c.updated_at.isoformat() if c.updated_at else None}
                for c in self.citations
            ],
            "found_sources": self.found_sources,
            "fell_back": self.fell_back,
            "provider": self.provider,
            "restricted_to_audience": self.restricted_to_audience,
            "note": self.note,
            "thread_id": self.thread_id,
            "timing_ms": self.timing_ms,
            "stale_since": self.stale_since.isoformat() if self.stale_since else None,
            "stale_note": self.stale_note,
            "closest": [
                {"title": p.title, "url": p.url, "source_id": p.source_id, "heading_path": list(p.heading_path),
                 "updated_at": p.updated_at.isoformat() if p.updated_at else None, "owner": p.owner}
                for p in self.closest
            ],
            "closest_label": CLOSEST_LABEL if self.closest else "",
            "who_to_ask": [{"owner": owner, "pages": titles} for owner, titles in who_to_ask(self.closest)],
            "who_to_ask_label": WHO_TO_ASK_LABEL,
            "not_found_reason": self.not_found_reason,
        }


# What a surface shows for a stage, and under an answer the extractive fallback wrote (the web
# chat's page keeps its own copy, in JavaScript).
STAGE_TEXT = {"retrieving": "Searching documents you can access…", "answering": "Writing the answer…"}
FELL_BACK_NOTE = "The language model was unavailable; this answer quotes the documents directly."


# -- the events of one answer, in order: Status*, (Delta | Reset)*, then Finished, Refused or Notice


@dataclass(frozen=True)
class Status:
    stage: str  # "retrieving", "answering"


@dataclass(frozen=True)
class Refused:
    """No answer: ``reason`` is safe to show the asker."""

    reason: str
    code: str  # "empty", "too_long", "rate_limited", "identity", "unavailable", "admin" (bot.admin)
    retry_after: float = 0.0


@dataclass(frozen=True)
class Finished:
    answer: Answer


@dataclass(frozen=True)
class Notice:
    """A reply that is not an answer from documents: an admin command's output (bot.admin).
    ``text`` is plain text with light Markdown (``**bold**``, ``- `` lists, `` `code` ``);
    it may name documents and their ACLs, so it is only ever sent to an admin, privately."""

    text: str
    command: str = ""  # "status", "sync", "who-can-read", "why", "help", "unknown"


Event = Status | Delta | Reset | Finished | Refused | Notice
