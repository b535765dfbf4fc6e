"""`!sync now` reaches the server's scheduler: SyncScheduler.request runs a connector's content
job at the next tick whatever its interval, and the admin command asks for it through the
late-bound trigger."""

from __future__ import annotations

import asyncio
import shutil
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from bot.admin import SyncTrigger
from bot.admin.commands import sync_now
from bot.turn import Notice
from connectors.sync.scheduler import ScheduledConnector, SyncScheduler
from core.db import IngestRun
from core.leases import LeaseManager
from retrieval.runtime import Runtime
from tests.bot.admin_helpers import CAROL, ListSink, commands, reply, service, turn
from tests.bot.conftest import dev_config
from tests.builders import sync_engine
from tests.connectors.sync.fake_source import FakeSource


def scheduler(tmp_path: Path) -> tuple[SyncScheduler, FakeSource, FakeSource]:
    engine = sync_engine(tmp_path / "sync")
    one, two = FakeSource(name="fake:one"), FakeSource(name="fake:two")
    one.put("a", "document a about alpha")
    two.put("b", "document b about beta")
    targets = [ScheduledConnector(name=n, source=s.source, build=lambda s=s: s,  # type: ignore[misc]
                                  intervals={"content": timedelta(days=1)})
               for n, s in (("one", one), ("two", two))]
    return SyncScheduler(engine, LeaseManager(engine.state.db), targets, holder="test", tick_seconds=3600), one, two


def content_runs(sched: SyncScheduler) -> list[str]:
    with sched.engine.state.db.session() as s:
        return list(s.execute(select(IngestRun.source).where(IngestRun.kind == "content").order_by(IngestRun.id))
                    .scalars())


async def test_a_requested_content_sync_runs_at_the_next_tick(tmp_path: Path) -> None:
    sched, one, two = scheduler(tmp_path)
    assert len(await sched.tick()) == 2  # never ran: both due
    assert await sched.tick() == []  # a day to go
    assert sched.request("two") == ["two"]
    [report] = await sched.tick()
    assert report.source == two.source and report.kind == "content"
    assert await sched.tick() == []  # a request runs once
    assert sched.request() == ["one", "two"]
    assert len(await sched.tick()) == 2
    assert content_runs(sched) == [one.source, two.source, two.source, one.source, two.source]


async def test_a_request_wakes_the_running_scheduler(tmp_path: Path) -> None:
    sched, _one, two = scheduler(tmp_path)
    await sched.tick()
    loop = asyncio.create_task(sched.run_forever())  # ticks now, then sleeps an hour
    try:
        for _ in range(200):
            await asyncio.sleep(0.01)
            if len(content_runs(sched)) == 2:
                break
        sched.request("two")
        for _ in range(500):
            await asyncio.sleep(0.01)
            if len(content_runs(sched)) == 3:
                break
        assert content_runs(sched)[-1] == two.source
    finally:
        sched.stop()
        await asyncio.wait_for(loop, 10)


async def test_sync_now_through_the_trigger(tmp_path: Path, handbook_data: Path) -> None:
    sched, _one, _two = scheduler(tmp_path)
    await sched.tick()  # both ran: neither is due for a day
    trigger = SyncTrigger()
    assert "No sync scheduler runs here" in sync_now(trigger, "")
    trigger.bind(sched)
    assert sync_now(trigger, "nope") == "No connector `nope` is scheduled here; the scheduled ones: `one`, `two`."
    shutil.copytree(handbook_data, tmp_path / "data")
    rt = Runtime(dev_config(tmp_path / "data"))
    try:
        audit = ListSink()
        svc = service(rt, commands(rt, audit, sync=trigger))
        out = await reply(svc, turn(CAROL.email, "!sync now one"))
        assert isinstance(out, Notice) and out.text.startswith("Content sync requested for `one`")
        assert audit.events[0].details == {"command": "sync", "allowed": True, "reason": "", "target": "one"}
    finally:
        rt.close()
    [report] = await sched.tick()  # the request, though "one" is not due for a day
    assert report.source == "fake:one" and len(await sched.tick()) == 0
    trigger.bind(None)
    assert not trigger.bound
