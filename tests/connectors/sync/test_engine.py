"""The sync engine's three jobs against a scripted source, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from connectors.sync import SyncEngine
from connectors.sync.engine import SyncStopped
from connectors.sync.state import LeaseLost
from core.acl import ORG_MEMBERS
from core.db import Database, DocumentRow, IngestRun
from core.leases import LeaseManager
from core.memberships import members_of
from tests.connectors.sync.fake_source import FakeSource


@pytest.fixture
def source() -> FakeSource:
    src = FakeSource()
    src.put("a", "alpha apples are red")
    src.put("b", "bravo bananas are yellow", [["group:files:fake:eng"]])
    src.put("c", "charlie cherries are dark")
    src.put("d", "delta dates are sweet")
    src.memberships = {"group:files:fake:eng": frozenset({"e@x.io"})}
    return src


def found(engine: SyncEngine, word: str, principals: list[str]) -> list[str]:
    return sorted(h.source_id for h in engine.index.lexical_search(word, principals, 10))


def rows(db: Database) -> dict[str, DocumentRow]:
    with db.session() as s:
        return {r.source_id: r for r in s.execute(select(DocumentRow)).scalars()}


def runs(db: Database) -> list[IngestRun]:
    with db.session() as s:
        out = list(s.execute(select(IngestRun).order_by(IngestRun.id)).scalars())
        s.expunge_all()
        return out


def test_first_content_sync_indexes_checkpoints_and_records(engine: SyncEngine, source: FakeSource) -> None:
    report = engine.run(source, "content")
    assert report.status == "succeeded"
    assert sorted(report.indexed) == ["a", "b", "c", "d"]
    assert report.checkpoints == 3  # after 2, after 4, at the end
    assert engine.state.load(source.source, "content") == {"seq": 4}
    # the first run also loads memberships, so group-restricted documents are usable at once
    assert members_of(engine.db, "group:files:fake:eng") == {"e@x.io"}
    assert found(engine, "bananas", ["user:e@x.io", "group:files:fake:eng"]) == ["b"]
    assert found(engine, "bananas", [ORG_MEMBERS]) == []
    [run] = runs(engine.db)
    assert (run.kind, run.status, run.counts["indexed"]) == ("content", "succeeded", 4)
    assert run.finished_at is not None


def test_incremental_run_reads_only_changes_and_writes_nothing_when_none(
    engine: SyncEngine, source: FakeSource
) -> None:
    engine.run(source, "content")
    again = engine.run(source, "content")
    assert source.checkpoints_seen[-1] == {"seq": 4}
    assert again.counts()["indexed"] == 0 and again.chunks_written == 0
    source.put("c", "charlie cherries are now green")
    source.forget("d")
    third = engine.run(source, "content")
    assert third.indexed == ["c"] and third.deleted == ["d"]
    assert found(engine, "green", [ORG_MEMBERS]) == ["c"]
    assert found(engine, "dark", [ORG_MEMBERS]) == []  # the old text is gone
    assert "d" not in rows(engine.db)
    assert engine.state.load(source.source, "content") == {"seq": 6}


def test_crash_mid_run_resumes_from_the_last_checkpoint(engine: SyncEngine, source: FakeSource) -> None:
    source.fail_after = 3
    report = engine.run(source, "content")
    assert report.status == "failed"
    assert "stopped, nothing deleted" in report.errors[0]
    assert sorted(report.indexed) == ["a", "b", "c"]  # what was read is kept
    assert engine.state.load(source.source, "content") == {"seq": 2}  # not past what is durable
    resumed = engine.run(source, "content")
    assert source.checkpoints_seen[-1] == {"seq": 2}  # resumed, not restarted from zero
    assert resumed.status == "succeeded"
    assert sorted(resumed.indexed) == ["d"] and resumed.unchanged == ["c"]
    assert sorted(rows(engine.db)) == ["a", "b", "c", "d"]


def test_a_failed_document_leaves_the_index_and_the_run_is_partial(engine: SyncEngine, source: FakeSource) -> None:
    engine.run(source, "content")
    source.put("a", "unparseable", broken=True)
    report = engine.run(source, "content")
    assert report.status == "partial"
    assert report.failed == [("a", "body could not be parsed")]
    assert report.deleted == ["a"]  # we cannot vouch for what it says or who reads it
    assert found(engine, "apples", [ORG_MEMBERS]) == []
    [*_, last] = runs(engine.db)
    assert last.errors == ["a: body could not be parsed"]


def test_permission_sync_rewrites_acls_without_reembedding(engine: SyncEngine, source: FakeSource) -> None:
    engine.run(source, "content")
    source.set_acl("a", [["group:files:fake:eng"]])  # restriction added, no new version
    source.memberships = {"group:files:fake:eng": frozenset({"e@x.io", "f@x.io"})}
    report = engine.run(source, "permissions")
    assert report.status == "succeeded"
    assert report.acl_updated == ["a"] and report.chunks_written == 0
    assert sorted(report.unchanged) == ["b", "c", "d"]
    assert report.groups_changed
    assert found(engine, "apples", [ORG_MEMBERS]) == []
    assert found(engine, "apples", ["group:files:fake:eng"]) == ["a"]
    assert rows(engine.db)["a"].acl == [["group:files:fake:eng"]]
    assert members_of(engine.db, "group:files:fake:eng") == {"e@x.io", "f@x.io"}


def test_permission_sync_deletes_what_the_source_no_longer_has(engine: SyncEngine, source: FakeSource) -> None:
    engine.run(source, "content")
    source.vanish("c")
    report = engine.run(source, "permissions")
    assert report.deleted == ["c"]
    assert "c" not in rows(engine.db)


def test_a_failing_acl_listing_changes_nothing(engine: SyncEngine, source: FakeSource) -> None:
    engine.run(source, "content")
    source.set_acl("d", [["group:files:fake:eng"]])
    source.fail_after = 0
    report = engine.run(source, "permissions")
    assert report.status == "failed"
    assert "ACL re-read" in report.errors[0]
    assert rows(engine.db)["d"].acl == [[ORG_MEMBERS]]  # kept as it was: nothing to vouch for


def test_full_reconciliation_deletes_what_is_not_listed(engine: SyncEngine, source: FakeSource) -> None:
    engine.run(source, "content")
    source.vanish("b")  # gone without a trace in the change feed
    assert engine.run(source, "content").deleted == []
    report = engine.run(source, "full")
    assert report.status == "succeeded"
    assert report.deleted == ["b"]
    assert sorted(report.unchanged) == ["a", "c", "d"]  # re-read from scratch, nothing rewritten
    assert report.chunks_written == 0
    assert source.checkpoints_seen[-1] is None
    assert engine.state.load(source.source, "content") == {"seq": 4}
    assert engine.state.load(source.source, "full") is None


def test_a_failed_listing_never_deletes(engine: SyncEngine, source: FakeSource) -> None:
    engine.run(source, "content")
    source.vanish("b")
    source.fail_after = 1  # list_ids raises after one id
    report = engine.run(source, "full")
    assert report.status == "failed"
    assert report.deleted == []
    assert "nothing deleted" in report.errors[0]
    assert "b" in rows(engine.db)


def test_an_interrupted_full_pass_resumes(engine: SyncEngine, source: FakeSource) -> None:
    engine.run(source, "content")
    calls = {"n": 0}
    original = source.changes

    def failing(checkpoint):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            source.fail_after = 3
        return original(checkpoint)

    source.changes = failing  # type: ignore[method-assign]
    first = engine.run(source, "full")
    assert first.status == "failed"
    assert engine.state.load(source.source, "full") == {"seq": 2}
    second = engine.run(source, "full")
    assert second.status == "succeeded"
    assert source.checkpoints_seen[-1] == {"seq": 2}
    assert engine.state.load(source.source, "full") is None


def test_stop_flag_interrupts_between_items(engine: SyncEngine, source: FakeSource) -> None:
    stop = threading.Event()
    seen: list[str] = []

    def progress(source_id: str) -> None:
        seen.append(source_id)
        if len(seen) == 2:
            stop.set()

    with pytest.raises(SyncStopped):
        engine.run(source, "content", progress=progress, stop=stop)
    [run] = runs(engine.db)
    assert run.status == "interrupted"


def test_checkpoints_are_fenced_by_the_lease(engine: SyncEngine, source: FakeSource) -> None:
    now = [datetime(2026, 11, 24, 12, 0, tzinfo=UTC)]
    leases = LeaseManager(engine.db, clock=lambda: now[0])
    mine = asyncio.run(leases.acquire("sync:fake", "replica-1", 60))
    assert mine is not None
    engine.run(source, "content", lease=mine)
    assert engine.state.load(source.source, "content") == {"seq": 4}
    now[0] += timedelta(seconds=61)  # replica-1 paused past its lease; replica-2 takes over
    theirs = asyncio.run(leases.acquire("sync:fake", "replica-2", 60))
    assert theirs is not None
    source.put("e", "echo eggplants")
    with pytest.raises(LeaseLost):
        engine.run(source, "content", lease=mine)
    assert engine.state.load(source.source, "content") == {"seq": 4}  # the stale holder wrote none
    assert runs(engine.db)[-1].status == "interrupted"
    assert engine.run(source, "content", lease=theirs).status == "succeeded"
    assert engine.state.load(source.source, "content") == {"seq": 5}


def test_unknown_job_kind_is_refused(engine: SyncEngine, source: FakeSource) -> None:
    with pytest.raises(ValueError, match="unknown sync job 'nightly'"):
        engine.run(source, "nightly")
