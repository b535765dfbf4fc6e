"""What the admin tests share: a list-backed audit sink, admins over the handbook index, and the
conversation service with the admin hook."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.admin import AdminCommands, AdminPolicy, SyncTrigger, status_text
from bot.conversation import ConversationService
from bot.identity import PrincipalsLookup, StaticIdentityResolver
from bot.metrics import Metrics
from bot.threads import InProcessThreadMemory
from bot.turn import Identity, Kind, Notice, Refused, Turn
from core.audit.events import AuditEvent
from core.ratelimit import InProcessRateLimiter
from core.sections import AdminsConfig
from retrieval.answer.answerer import Answerer
from retrieval.answer.extractive import ExtractiveProvider
from retrieval.relevance import RelevanceGate
from retrieval.runtime import Runtime
from retrieval.search import Mode

CAROL = Identity("carol@northwind.example", org_member=True)  # admin by e-mail (people-leads)
BOB = Identity("bob@northwind.example", org_member=True)  # admin through group:files:handbook:security
ERIN = Identity("erin@northwind.example", org_member=True)  # not an admin
GINA = Identity("gina@northwind.example", org_member=False)  # a guest, listed as an admin anyway
ADMINS = AdminsConfig(users=["Carol@Northwind.example", "gina@northwind.example"],
                      groups=["group:files:handbook:security"])


@dataclass
class ListSink:
    events: list[AuditEvent] = field(default_factory=list)
    fail: bool = False

    def record(self, event: AuditEvent) -> None:
        if self.fail:
            raise OSError("audit database unreachable")
        self.events.append(event)


def commands(rt: Runtime, audit: ListSink, sync: SyncTrigger | None = None) -> AdminCommands:
    return AdminCommands(
        AdminPolicy(ADMINS), audit, db=rt.db,
        search=lambda q, p: rt.searcher.search_with_detail(q, p, mode=Mode.HYBRID),
        status=status_text(rt.config), relevance=RelevanceGate(), sync=sync,
    )


def service(rt: Runtime, admin: AdminCommands | None, limit: int = 100) -> ConversationService:
    return ConversationService(
        search=lambda q, p: rt.searcher.search_with_detail(q, p, mode=Mode.HYBRID),
        answerer=Answerer(ExtractiveProvider()),
        identities=StaticIdentityResolver({i.email: i for i in (CAROL, BOB, ERIN, GINA)}),
        principals_for=PrincipalsLookup(rt.db),
        rate_limiter=InProcessRateLimiter(limit),
        threads=InProcessThreadMemory(),
        metrics=Metrics(),
        admin=admin,
    )


def turn(user: str, text: str, kind: Kind = Kind.DIRECT, *, private: bool = False) -> Turn:
    return Turn("test", "w1", user, kind, "c1", "t1", text, private=private)


async def reply(svc: ConversationService, t: Turn) -> Notice | Refused:
    events = [e async for e in svc.ask(t)]
    assert len(events) == 1, events  # an admin command is one event: no status, no streaming
    (last,) = events
    assert isinstance(last, (Notice, Refused)), last
    return last
