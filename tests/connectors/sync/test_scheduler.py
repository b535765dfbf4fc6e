"""Two schedulers (two replicas) against one PostgreSQL: each job runs on one of them at a time,
a dead replica's lease is taken over, and a replica that loses its lease stops."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from connectors.sync import SyncEngine
from connectors.sync.scheduler import ScheduledConnector, SyncScheduler, lease_job
from core.db import Database, IngestRun, open_database
from core.db.tables import SyncLease
from core.leases import LeaseManager
from retrieval.chunking import Chunker
from retrieval.embedding import HashEmbedder
from retrieval.index.lance import LanceIndex
from tests.conftest import PG_URL
from tests.connectors.sync.fake_source import FakeSource

EMB = HashEmbedder(64)


class Replica:
    def __init__(self, schema: str, root: Path, holder: str, source: FakeSource, lease_seconds: float = 30) -> None:
        self.db = open_database(PG_URL, schema)
        index = LanceIndex(root / holder, EMB.dimension)
        self.engine = SyncEngine(self.db, index, EMB, Chunker(EMB.token_counts, 60, 10))
        target = ScheduledConnector(
            name="fake", source=source.source, build=lambda: source,
            intervals={"content": timedelta(minutes=15)},
        )
        self.scheduler = SyncScheduler(
            self.engine, LeaseManager(self.db), [target], holder=holder,
            lease_seconds=lease_seconds, tick_seconds=0.1,
        )


@pytest.fixture
def source() -> FakeSource:
    src = FakeSource(name="fake:sched")
    for i in range(6):
        src.put(f"doc{i}", f"document number {i} about topic{i}")
    return src


@pytest.fixture
def replicas(pg_schema: str, tmp_path: Path, source: FakeSource) -> Iterator[tuple[Replica, Replica]]:
    one, two = Replica(pg_schema, tmp_path, "replica-1", source), Replica(pg_schema, tmp_path, "replica-2", source)
    yield one, two
    one.db.close()
    two.db.close()


def runs(db: Database) -> list[IngestRun]:
    with db.session() as s:
        out = list(s.execute(select(IngestRun).order_by(IngestRun.id)).scalars())
        s.expunge_all()
        return out


async def test_a_job_runs_on_one_replica_at_a_time(replicas: tuple[Replica, Replica], source: FakeSource) -> None:
    one, two = replicas
    source.gate = threading.Event()
    first = asyncio.create_task(one.scheduler.tick())
    assert await asyncio.to_thread(source.entered.wait, 10)  # replica 1 is inside the run
    assert await two.scheduler.tick() == []  # lease held: replica 2 leaves it alone
    source.gate.set()
    [report] = await first
    assert report.status == "succeeded" and len(report.indexed) == 6
    assert source.calls["changes"] == 1
    # Due-ness comes from the shared run records: replica 2 does not rerun what just finished.
    assert await two.scheduler.tick() == []
    assert await one.scheduler.tick() == []
    assert source.calls["changes"] == 1
    assert [(r.kind, r.status) for r in runs(one.db)] == [("content", "succeeded")]
    assert await LeaseManager(one.db).current(lease_job("fake")) is None  # released


async def test_both_replicas_ticking_together_run_the_job_once(
    replicas: tuple[Replica, Replica], source: FakeSource
) -> None:
    one, two = replicas
    results = await asyncio.gather(*(r.scheduler.tick() for r in (one, two, one, two)))
    assert sum(len(r) for r in results) == 1
    assert source.calls["changes"] == 1


async def test_a_dead_replicas_lease_is_taken_over(replicas: tuple[Replica, Replica], source: FakeSource) -> None:
    one, two = replicas
    leases = LeaseManager(one.db)
    dead = await leases.acquire(lease_job("fake"), "replica-1", 0.5)  # then replica 1 dies
    assert dead is not None
    run_id = one.engine.state.start_run(source.source, "content")  # its run record stays "running"
    assert await two.scheduler.tick() == []
    await asyncio.sleep(0.6)
    [report] = await two.scheduler.tick()
    assert report.status == "succeeded"
    statuses = {r.id: r.status for r in runs(two.db)}
    assert statuses[run_id] == "interrupted"


async def test_a_replica_that_loses_its_lease_stops(pg_schema: str, tmp_path: Path, source: FakeSource) -> None:
    replica = Replica(pg_schema, tmp_path, "replica-1", source, lease_seconds=0.6)
    try:
        source.gate = threading.Event()
        task = asyncio.create_task(replica.scheduler.tick())
        assert await asyncio.to_thread(source.entered.wait, 10)
        with replica.db.session() as s:  # another replica took the lease over
            s.execute(update(SyncLease).values(token="someone-else", holder="replica-2"))
        await asyncio.sleep(0.5)  # a renewal (every 0.2 s) notices
        source.gate.set()
        assert await task == []
        [run] = runs(replica.db)
        assert run.status == "interrupted"
        assert replica.engine.state.load(source.source, "content") is None  # no progress written
    finally:
        replica.db.close()


async def test_run_forever_stops_promptly(replicas: tuple[Replica, Replica], source: FakeSource) -> None:
    one, _ = replicas
    loop_task = asyncio.create_task(one.scheduler.run_forever())
    for _ in range(100):
        if [r for r in runs(one.db) if r.finished_at is not None]:
            break
        await asyncio.sleep(0.05)
    one.scheduler.stop()
    await asyncio.wait_for(loop_task, 5)
    assert [r.status for r in runs(one.db)] == ["succeeded"]


async def test_stopping_during_a_run_interrupts_it(replicas: tuple[Replica, Replica], source: FakeSource) -> None:
    one, _ = replicas
    source.gate = threading.Event()
    loop_task = asyncio.create_task(one.scheduler.run_forever())
    assert await asyncio.to_thread(source.entered.wait, 10)
    one.scheduler.stop()  # shutdown while the job is inside its listing
    source.gate.set()
    await asyncio.wait_for(loop_task, 5)
    assert [r.status for r in runs(one.db)] == ["interrupted"]
    assert await LeaseManager(one.db).current(lease_job("fake")) is None  # released for others


def test_failed_runs_are_retried_sooner_than_their_interval(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from connectors.sync.scheduler import due_kinds
    from connectors.sync.state import SyncState

    db = open_database(f"sqlite:///{tmp_path / 'lore.db'}")
    try:
        state = SyncState(db)
        target = ScheduledConnector(name="x", source="fake:x", build=FakeSource,
                                    intervals={"content": timedelta(hours=1), "full": timedelta(hours=24)})
        assert due_kinds(state, target, datetime.now(UTC)) == ["full", "content"]  # never ran
        for kind, status in (("content", "failed"), ("full", "succeeded")):
            run_id = state.start_run("fake:x", kind)
            with db.session() as s:
                run = s.get(IngestRun, run_id)
                assert run is not None
                run.status, run.finished_at = status, datetime.now(UTC)
        now = datetime.now(UTC)
        assert due_kinds(state, target, now + timedelta(minutes=4)) == []
        assert due_kinds(state, target, now + timedelta(minutes=6)) == ["content"]  # not an hour
        assert due_kinds(state, target, now + timedelta(hours=25)) == ["full", "content"]
    finally:
        db.close()


async def test_a_connector_that_cannot_be_built_is_a_recorded_failure(
    replicas: tuple[Replica, Replica], source: FakeSource
) -> None:
    one, _ = replicas

    def broken() -> FakeSource:
        raise RuntimeError("secret 'confluence-api-token' is not set in the env secret store")

    one.scheduler.targets = [ScheduledConnector(name="fake", source=source.source, build=broken,
                                                intervals={"content": timedelta(minutes=15)})]
    assert await one.scheduler.tick() == []
    [run] = runs(one.db)
    assert (run.kind, run.status) == ("content", "failed")
    assert run.errors == ["connector fake could not be built: secret 'confluence-api-token' is not set in the env secret store"]
    assert await one.scheduler.tick() == []  # retried later, not on every tick
    assert len(runs(one.db)) == 1
