"""Every question leaves one audit event: who, where, what was retrieved, cited and withheld by
the audience policy; refused questions and private-answer requests too; a failing audit store
never breaks an answer."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.audit import Auditor
from bot.conversation import ConversationService
from bot.identity import PrincipalsLookup
from bot.metrics import Metrics
from bot.turn import Audience, Finished, Kind
from core.audit import DatabaseAuditLog, iter_events, verify_chain
from core.audit.events import AuditEvent
from core.db import Database
from core.ratelimit import InProcessRateLimiter
from core.secrets import EnvSecretStore
from core.secrets.redaction import Redactor
from core.sections import AuditConfig
from retrieval.runtime import Runtime
from retrieval.search import Mode
from tests.bot.conftest import dev_config
from tests.bot.test_conversation import CAROL, SALARY, FixedAudience, final, service, turn


class ListSink:
    def __init__(self, fail: bool = False) -> None:
        self.events: list[AuditEvent] = []
        self.fail = fail

    def record(self, event: AuditEvent) -> None:
        if self.fail:
            raise OSError("disk full")
        self.events.append(event)


@pytest.fixture
def runtime(handbook_data: Path, tmp_path: Path) -> Iterator[Runtime]:
    shutil.copytree(handbook_data, tmp_path / "data")
    rt = Runtime(dev_config(tmp_path / "data"))
    yield rt
    rt.close()


@pytest.fixture
def sink() -> Iterator[ListSink]:
    yield ListSink()


def audited(rt: Runtime, sink: ListSink, audiences: FixedAudience | None = None) -> tuple[ConversationService, Auditor]:
    svc = service(rt, audiences)
    svc.audit = Auditor(sink, Metrics())
    return svc, svc.audit


async def test_a_direct_question_is_recorded_with_what_it_retrieved_and_cited(runtime: Runtime, sink: ListSink) -> None:
    svc, auditor = audited(runtime, sink)
    result = await final(svc, turn(CAROL.email, SALARY))
    await auditor.drain()
    assert isinstance(result, Finished)
    [event] = sink.events
    assert (event.kind, event.actor, event.platform) == ("question", f"user:{CAROL.email}", "test")
    d = event.details
    assert d["question"] == SALARY and d["conversation"] == "direct" and d["outcome"] == "answered"
    cited = [c.document_id for c in result.answer.citations]
    assert cited and d["cited"] == list(dict.fromkeys(cited))
    assert set(cited) <= set(d["retrieved"])  # type: ignore[arg-type]
    assert d["provider"] == "extractive" and float(d["latency_ms"]) > 0  # type: ignore[arg-type]
    assert "withheld" not in d


async def test_a_channel_answer_records_what_the_audience_policy_withheld(runtime: Runtime, sink: ListSink) -> None:
    svc, auditor = audited(runtime, sink, FixedAudience(Audience(includes_outsiders=False)))
    await final(svc, turn(CAROL.email, SALARY, Kind.CHANNEL))
    await auditor.drain()
    [event] = sink.events
    withheld = event.details["withheld"]
    assert isinstance(withheld, list)
    own = runtime.searcher.search_with_detail(SALARY, PrincipalsLookup(runtime.db)(CAROL), mode=Mode.HYBRID).hits
    salary = {h.document_id for h in own if h.source_id == "hr/confidential/salary-bands.md"}
    assert salary and salary <= set(withheld)  # Carol may read it; the channel may not
    assert not set(event.details["retrieved"]) & set(withheld)  # type: ignore[arg-type]


async def test_refusals_and_private_requests_are_recorded(runtime: Runtime, sink: ListSink) -> None:
    svc, auditor = audited(runtime, sink, FixedAudience(Audience(includes_outsiders=False)))
    await final(svc, turn("nobody@elsewhere.example", SALARY))
    await final(svc, turn(CAROL.email, SALARY, Kind.CHANNEL, private=True))
    await auditor.drain()
    kinds = [(e.kind, e.details.get("outcome")) for e in sink.events]
    assert ("question", "refused_identity") in kinds
    assert ("private_answer", None) in kinds
    unknown = next(e for e in sink.events if e.details.get("outcome") == "refused_identity")
    assert unknown.actor == "test:w1:nobody@elsewhere.example"  # the platform account: no identity


async def test_an_audit_store_that_fails_does_not_break_the_answer(runtime: Runtime) -> None:
    sink = ListSink(fail=True)
    svc, auditor = audited(runtime, sink)
    result = await final(svc, turn(CAROL.email, SALARY))
    await auditor.drain()
    assert isinstance(result, Finished) and result.answer.found_sources
    assert auditor.readiness().startswith("degraded")
    assert auditor.metrics.audit_failures.labels(kind="question")._value.get() == 1


async def test_authentication_failures_are_throttled_per_source(sink: ListSink) -> None:
    now = [0.0]
    auditor = Auditor(sink, Metrics(), clock=lambda: now[0])
    for _ in range(50):
        await auditor.auth_failure("slack", "signature mismatch", "203.0.113.9")
    await auditor.auth_failure("slack", "signature mismatch", "198.51.100.1")
    now[0] = 61.0
    await auditor.auth_failure("slack", "signature mismatch", "203.0.113.9")
    assert [e.details.get("remote") for e in sink.events] == ["203.0.113.9", "198.51.100.1", "203.0.113.9"]
    assert sink.events[-1].details["folded_since_last"] == 49


async def test_many_concurrent_askers_leave_one_complete_verifiable_chain(runtime: Runtime, database: Database) -> None:
    log = DatabaseAuditLog(database, AuditConfig(), EnvSecretStore({}))
    svc = service(runtime)
    svc.audit = Auditor(log, Metrics(), question_fields=log.question_details)
    svc.rate_limiter = InProcessRateLimiter(1000)
    askers = [CAROL.email] + [f"user{i}@northwind.example" for i in range(19)]
    turns = [turn(email, f"{SALARY} ({n})", thread=f"t{n}") for n, email in enumerate(askers * 2)]
    await asyncio.gather(*(final(svc, t) for t in turns))
    await svc.audit.drain()
    result = verify_chain(database, None)
    assert result.ok and result.events == len(turns)
    recorded = sorted(str(r.details) for r in iter_events(database) if r.kind == "question")
    assert len(recorded) == len(turns)
    assert all(f"({n})" in "".join(recorded) for n in range(len(turns)))


async def test_thread_memory_keeps_a_pasted_secret_masked(runtime: Runtime) -> None:
    redactor = Redactor()
    redactor.register("hunter2-very-secret-value", name="slack-bot-token")
    svc = service(runtime)
    svc.redact = redactor.redact
    await final(svc, turn(CAROL.email, "does hunter2-very-secret-value open the VPN?", thread="tm"))
    [kept] = await svc.threads.questions(f"test:w1:c1:tm:{CAROL.email}")
    assert "hunter2-very-secret-value" not in kept and "[REDACTED]" in kept
