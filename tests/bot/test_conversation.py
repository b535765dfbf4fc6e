"""The conversation service's policies, with the handbook index and the extractive provider:
audience scoping, fail-closed identity and audience, private answers, per-asker threads."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.audience import scope_for
from bot.conversation import ConversationService
from bot.identity import PrincipalsLookup, StaticIdentityResolver
from bot.metrics import Metrics
from bot.threads import InProcessThreadMemory, RedisThreadMemory
from bot.turn import Audience, Finished, Identity, Kind, Refused, Turn
from core.acl import ORG_MEMBERS
from core.ratelimit import InProcessRateLimiter
from retrieval.answer.answerer import Answerer
from retrieval.answer.extractive import ExtractiveProvider
from retrieval.runtime import Runtime
from retrieval.search import Mode
from tests.bot.conftest import dev_config

CAROL = Identity("carol@northwind.example", org_member=True)
ERIN = Identity("erin@northwind.example", org_member=True)
GINA = Identity("gina@northwind.example", org_member=False)
SALARY = "What is the salary band for L5?"


@dataclass
class FixedAudience:
    """An AudienceResolver with a fixed answer, or one that fails."""

    members: Audience | None = None
    fail: bool = False

    async def audience(self, turn: Turn) -> Audience:
        if self.fail or self.members is None:
            raise RuntimeError("conversations.members failed")
        return self.members


class _Raising:
    async def resolve(self, turn: Turn) -> Identity | None:
        raise TimeoutError("users.info timed out")


@pytest.fixture
def runtime(handbook_data: Path, tmp_path: Path) -> AsyncIterator[Runtime]:
    shutil.copytree(handbook_data, tmp_path / "data")
    rt = Runtime(dev_config(tmp_path / "data"))
    yield rt  # type: ignore[misc]
    rt.close()


def service(rt: Runtime, audiences: FixedAudience | None = None, identities: object = None) -> ConversationService:
    return ConversationService(
        search=lambda q, p: rt.searcher.search_with_detail(q, p, mode=Mode.HYBRID),
        answerer=Answerer(ExtractiveProvider()),
        identities=identities or StaticIdentityResolver({i.email: i for i in (CAROL, ERIN, GINA)}),  # type: ignore[arg-type]
        principals_for=PrincipalsLookup(rt.db),
        rate_limiter=InProcessRateLimiter(100),
        threads=InProcessThreadMemory(),
        metrics=Metrics(),
        audiences=audiences,
    )


def turn(user: str, text: str, kind: Kind = Kind.DIRECT, *, private: bool = False, thread: str = "t1") -> Turn:
    return Turn("test", "w1", user, kind, "c1", thread, text, private=private)


async def final(svc: ConversationService, t: Turn) -> Finished | Refused:
    last = None
    async for event in svc.ask(t):
        last = event
    assert isinstance(last, (Finished, Refused))
    return last


def sources(result: Finished | Refused) -> set[str]:
    assert isinstance(result, Finished), result
    return {c.source_id for c in result.answer.citations}


async def test_direct_message_uses_the_askers_access(runtime: Runtime) -> None:
    svc = service(runtime)
    assert "hr/confidential/salary-bands.md" in sources(await final(svc, turn(CAROL.email, SALARY)))
    assert not any("confidential" in s for s in sources(await final(svc, turn(ERIN.email, SALARY))))


async def test_org_channel_answers_only_from_org_wide_documents(runtime: Runtime) -> None:
    svc = service(runtime, FixedAudience(Audience(includes_outsiders=False)))
    result = await final(svc, turn(CAROL.email, SALARY, Kind.CHANNEL))
    assert isinstance(result, Finished)
    assert result.answer.restricted_to_audience and "everyone in the organisation" in result.answer.note
    assert not any("confidential" in s or s == "hr/benefits.md" for s in sources(result))
    private = await final(svc, turn(CAROL.email, SALARY, Kind.CHANNEL, private=True))
    assert "hr/confidential/salary-bands.md" in sources(private)
    assert isinstance(private, Finished) and not private.answer.restricted_to_audience


async def test_channel_with_a_guest_uses_what_everyone_can_read(runtime: Runtime) -> None:
    svc = service(runtime, FixedAudience(Audience(includes_outsiders=True, members=(CAROL, GINA))))
    result = await final(svc, turn(CAROL.email, "How do I get VPN access? " + SALARY, Kind.CHANNEL))
    assert isinstance(result, Finished)
    assert not result.answer.found_sources and result.answer.citations == ()
    assert "privately" in result.answer.note


def test_scope_intersection_never_widens() -> None:
    def lookup(identity: Identity) -> list[str]:
        return {"a@x.io": ["user:a@x.io", "group:files:eng", ORG_MEMBERS],
                "b@x.io": ["user:b@x.io", "group:files:eng"]}[identity.email]

    asker = lookup(Identity("a@x.io", True))
    scope = scope_for(False, asker, Audience(True, (Identity("a@x.io", True), Identity("b@x.io", False))), lookup)
    assert scope.principals == ["group:files:eng"]
    assert scope_for(False, asker, Audience(True, None), lookup).principals == []
    assert scope_for(False, asker, Audience(False), lookup).principals == [ORG_MEMBERS]
    assert scope_for(True, asker, Audience(True, None), lookup).principals == asker


@pytest.mark.parametrize("audiences", [None, FixedAudience(fail=True)])
async def test_unknown_audience_fails_closed(runtime: Runtime, audiences: FixedAudience | None) -> None:
    svc = service(runtime, audiences)
    result = await final(svc, turn(CAROL.email, "How do I get VPN access?", Kind.GROUP))
    assert isinstance(result, Finished) and not result.answer.found_sources


async def test_unknown_or_failing_identity_gets_nothing(runtime: Runtime) -> None:
    unknown = await final(service(runtime), turn("nobody@northwind.example", SALARY))
    assert isinstance(unknown, Refused) and unknown.code == "identity"
    failing = await final(service(runtime, identities=_Raising()), turn(CAROL.email, SALARY))
    assert isinstance(failing, Refused) and failing.code == "identity"


async def test_threads_are_per_asker(runtime: Runtime) -> None:
    svc = service(runtime)
    await final(svc, turn(CAROL.email, "What are the salary bands per level?", thread="shared"))
    follow = await final(svc, turn(CAROL.email, "And for managers?", thread="shared"))
    assert "hr/confidential/salary-bands.md" in sources(follow)
    # Erin in the same thread does not inherit carol's question (nor could she read the page).
    erin = await final(svc, turn(ERIN.email, "And for managers?", thread="shared"))
    assert not any("confidential" in s for s in sources(erin)) if isinstance(erin, Finished) else True


async def test_redis_thread_memory(redis_url: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(redis_url)
    prefix = f"lore-test:{uuid.uuid4().hex}:"
    memory = RedisThreadMemory(client, prefix, ttl_seconds=60)
    try:
        for i in range(8):
            await memory.remember("k", f"question {i}")
        assert await memory.questions("k") == [f"question {i}" for i in range(2, 8)]
        assert 0 < await client.ttl(f"{prefix}thread:k") <= 60
        assert await memory.questions("other") == []
    finally:
        keys = [k async for k in client.scan_iter(f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
