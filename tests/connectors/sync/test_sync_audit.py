"""Each sync run is accounted for in the audit log: the documents it indexed, deleted and
re-permissioned, split over several events when a run touches many."""

from __future__ import annotations

from connectors.sync import SyncEngine
from connectors.sync import audit as sync_audit
from connectors.sync.report import SyncReport
from core.audit.events import AuditEvent
from tests.connectors.sync.fake_source import FakeSource


class ListSink:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def record(self, event: AuditEvent) -> None:
        self.events.append(event)


def test_runs_record_upserts_acl_changes_and_deletions(engine: SyncEngine) -> None:
    sink = ListSink()
    engine.state.audit = sink
    source = FakeSource()
    source.put("a", "alpha apples are red")
    source.put("b", "bravo bananas are yellow")
    engine.run(source, "content")
    source.set_acl("a", [["group:files:fake:eng"]])
    source.vanish("b")
    engine.run(source, "permissions")
    first, second = sink.events
    assert (first.kind, first.actor) == ("sync", f"connector:{source.source}")
    assert first.details["kind"] == "content" and sorted(first.details["upserted"]) == ["a", "b"]  # type: ignore[arg-type]
    assert second.details["acl_changed"] == ["a"] and second.details["deleted"] == ["b"]
    assert second.details["status"] == "succeeded" and second.details["parts"] == 1


def test_a_large_run_is_split_into_numbered_parts() -> None:
    report = SyncReport("files:big", "content", indexed=[f"d{i}" for i in range(2500)], deleted=["x"])
    report.status = "succeeded"
    events = list(sync_audit.sync_events(report))
    assert [e.details["part"] for e in events] == [1, 2, 3] and events[0].details["parts"] == 3
    ids = [i for e in events for i in e.details["upserted"]]  # type: ignore[union-attr]
    assert ids == report.indexed and events[-1].details["deleted"] == ["x"]


def test_an_audit_store_that_fails_does_not_fail_the_run(engine: SyncEngine) -> None:
    class Broken:
        def record(self, event: AuditEvent) -> None:
            raise OSError("database gone")

    engine.state.audit = Broken()
    source = FakeSource()
    source.put("a", "alpha apples are red")
    assert engine.run(source, "content").status == "succeeded"
