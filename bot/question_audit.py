"""The audit event of one question: who asked where, what was retrieved, cited and withheld.

"Withheld" names the documents the asker could read that the audience policy kept out of an
answer posted where others read it. Finding them needs a second search over the asker's own
access; it runs after the answer has been delivered (the audit task, on the search pool), so the
asker never waits for it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field

from bot.turn import Identity, Turn
from core.audit.events import AuditEvent, JsonValue

MAX_AUDITED_QUESTION_CHARS = 4000
MAX_IDS = 200  # per list: a question retrieves at most `search.candidates` documents anyway


@dataclass
class QuestionTrace:
    """What the conversation service learnt while answering, filled in as it goes."""

    turn: Turn
    identity: Identity | None = None
    question: str = ""  # after rewriting with the thread's history
    asker_principals: list[str] = field(default_factory=list)
    restricted: bool = False
    retrieved: list[str] = field(default_factory=list)
    cited: list[str] = field(default_factory=list)
    provider: str = ""
    outcome: str = "error"
    latency_ms: float = 0.0
    admin: bool = False  # an admin command: recorded as an "admin" event by bot.admin instead


def actor_of(turn: Turn, identity: Identity | None) -> str:
    if identity is not None:
        return f"user:{identity.email}"
    return f"{turn.platform}:{turn.workspace}:{turn.user_id}"


def _ids(values: Iterable[str]) -> list[JsonValue]:
    return [value for value in list(dict.fromkeys(values))[:MAX_IDS]]


async def question_event(
    trace: QuestionTrace,
    question_fields: Callable[[str], Mapping[str, JsonValue]],
    withheld_search: Callable[[str, list[str]], Awaitable[list[str]]] | None,
) -> AuditEvent:
    turn = trace.turn
    text = turn.text.strip()
    details: dict[str, JsonValue] = {
        "conversation": turn.kind.value,
        "conversation_id": turn.conversation_id,
        "private": turn.private,
        **question_fields(text[:MAX_AUDITED_QUESTION_CHARS]),
        "outcome": trace.outcome,
        "retrieved": _ids(trace.retrieved),
        "cited": _ids(trace.cited),
        "provider": trace.provider,
        "latency_ms": round(trace.latency_ms, 1),
    }
    if len(text) > MAX_AUDITED_QUESTION_CHARS:
        details["question_chars"] = len(text)
    if trace.restricted and withheld_search is not None and trace.asker_principals and trace.outcome.startswith(("answered", "not_found")):
        own = await withheld_search(trace.question, trace.asker_principals)
        shown = set(trace.retrieved)
        details["withheld"] = _ids(d for d in own if d not in shown)
    return AuditEvent("question", actor=actor_of(turn, trace.identity), platform=turn.platform, details=details)
