"""Item 13: the rate limit was per chat account, not per person: two accounts with one email
each got the full quota. It is keyed on the resolved email now."""

from __future__ import annotations

from bot.conversation import ConversationService
from bot.identity import PrincipalsLookup, StaticIdentityResolver
from bot.metrics import Metrics
from bot.surface import Surface, Surfaces
from bot.threads import InProcessThreadMemory
from bot.turn import Finished, Identity, Kind, Refused, Turn
from core.ratelimit import InProcessRateLimiter
from retrieval.answer.answerer import Answerer
from retrieval.answer.extractive import ExtractiveProvider
from retrieval.runtime import Runtime
from retrieval.search import Mode
from tests.bot.test_conversation import final, runtime

__all__ = ["runtime"]  # the handbook runtime fixture of the conversation tests

CAROL = Identity("carol@northwind.example", org_member=True)


class Accounts(Surface):
    """A surface whose platform accounts map to fixed identities."""

    def __init__(self, platform: str, users: dict[str, Identity]) -> None:
        self.platform = platform
        self.users = StaticIdentityResolver(users)

    async def resolve(self, turn: Turn) -> Identity | None:
        return await self.users.resolve(turn)


async def test_one_person_with_two_accounts_shares_one_quota(runtime: Runtime) -> None:
    # Carol's Slack account U1 in one workspace, U2 in another, and the web chat: one person.
    svc = ConversationService(
        search=lambda q, p: runtime.searcher.search_with_detail(q, p, mode=Mode.HYBRID),
        answerer=Answerer(ExtractiveProvider()),
        identities=Surfaces({"slack": Accounts("slack", {"u1": CAROL, "u2": CAROL}),
                             "webchat": Accounts("webchat", {CAROL.email: CAROL})}),
        principals_for=PrincipalsLookup(runtime.db),
        rate_limiter=InProcessRateLimiter(2),
        threads=InProcessThreadMemory(),
        metrics=Metrics(),
    )
    asks = [Turn("slack", "T1", "u1", Kind.DIRECT, "D1", "1", "vpn access"),
            Turn("slack", "T2", "u2", Kind.DIRECT, "D2", "1", "vpn access"),
            Turn("webchat", "local", CAROL.email, Kind.DIRECT, "w", "1", "vpn access")]
    results = [await final(svc, t) for t in asks]
    assert isinstance(results[0], Finished) and isinstance(results[1], Finished)
    assert isinstance(results[2], Refused) and results[2].code == "rate_limited"
    svc.close()
