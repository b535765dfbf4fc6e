"""Delta logic of the SharePoint connector against an in-memory drive (fake_graph.py): paging
to the delta link, the delta link as checkpoint, deletes, last-wins, folder moves, 410, resume."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.base import CheckpointMark, Deleted, Skipped
from connectors.sharepoint.connector import SharePointConnector
from connectors.sharepoint.delta import Folders, last_wins, walk
from connectors.sharepoint.scope import Scope
from connectors.sharepoint.settings import SharePointConnectorConfig
from core.models import Document

from .fake_graph import DRIVE, FakeGraph


@pytest.fixture
def graph() -> FakeGraph:
    return FakeGraph()


@pytest.fixture
def connector(graph: FakeGraph) -> Iterator[SharePointConnector]:
    conf = SharePointConnectorConfig(type="sharepoint", host="contoso.sharepoint.com", sites=["/sites/hr"],
                                     site_pages=False, exclude_paths=["/sites/hr/Documents/Secret"])
    c = SharePointConnector("sp", Scope.from_config("sp", conf), graph, site_pages=False)  # type: ignore[arg-type]
    yield c
    c.close()


def run(connector: SharePointConnector, checkpoint: dict[str, Any] | None) -> tuple[list[Any], dict[str, Any]]:
    changes = list(connector.changes(checkpoint))
    marks = [c for c in changes if isinstance(c, CheckpointMark)]
    return [c for c in changes if not isinstance(c, CheckpointMark)], marks[-1].state


def docs(changes: list[Any]) -> dict[str, Document]:
    return {c.source_id.split("/")[1]: c for c in changes if isinstance(c, Document)}


def test_last_wins_keeps_one_entry_per_id_in_last_order() -> None:
    items: list[dict[str, Any]] = [{"id": "a", "v": 1}, {"id": "b"}, {"id": "a", "v": 2}]
    assert last_wins(items) == [{"id": "b"}, {"id": "a", "v": 2}]


def test_folder_paths_from_parent_ids_in_any_order_and_from_parent_reference_path() -> None:
    asked: list[str] = []

    def lookup(folder_id: str) -> dict[str, Any] | None:
        asked.append(folder_id)
        return {"id": "far", "name": "Far", "parentReference": {"path": "/drives/x/root:/Top"}}

    folders = Folders(lookup=lookup)
    folders.update({"id": "f2", "name": "2026", "folder": {}, "parentReference": {"id": "f1"}})  # child first
    folders.update({"id": "root", "root": {}, "folder": {}})
    assert not folders.update({"id": "f1", "name": "Policies", "folder": {}, "parentReference": {"id": "root"}})
    assert folders.parent_path({"parentReference": {"id": "f2"}}) == "Policies/2026"
    assert folders.parent_path({"parentReference": {"path": "/drives/x/root:/A%20B/C"}}) == "A B/C"
    assert folders.update({"id": "f1", "name": "Old", "folder": {}, "parentReference": {"id": "root"}})  # renamed
    assert folders.path("f2") == "Old/2026" and folders.below("f2", {"f1"}) and not folders.below("f1", {"f2"})
    assert folders.parent_path({"parentReference": {"id": "far"}}) == "Top/Far" and asked == ["far"]
    again = Folders(folders.saved())
    assert again.path("f2") == "Old/2026"  # the checkpoint keeps the chain


def test_first_sync_pages_to_the_delta_link_and_checkpoints_every_page(graph: FakeGraph, connector: SharePointConnector) -> None:
    policies = graph.folder("Policies")
    graph.file("leave.txt", "Leave policy: 30 days.", parent=policies)
    graph.file("travel.md", "# Travel\nBook early.")
    graph.file("logo.png", "png")
    changes = list(connector.changes(None))
    marks = [c for c in changes if isinstance(c, CheckpointMark)]
    assert len(marks) >= 3  # five items, two a page: one mark per page (and one at the end)
    link = marks[-1].state["drives"][DRIVE]["link"]
    assert link.endswith(f"token={len(graph.log)}")
    found = docs(changes)
    leave = next(d for d in found.values() if d.title == "leave.txt")
    assert leave.sections[0].heading_path[:3] == ("HR", "Documents", "Policies")
    assert leave.acl is not None and leave.acl.allows(["user:ana@contoso.example"])
    assert not leave.acl.allows(["user:bob@contoso.example", "org:members"])
    assert [c.reason for c in changes if isinstance(c, Skipped)] == ["file type .png is not indexed (extensions)"]


def test_no_change_run_costs_one_delta_call_and_downloads_nothing(graph: FakeGraph, connector: SharePointConnector) -> None:
    for n in range(7):
        graph.file(f"f{n}.txt", f"file {n}")
    _, state = run(connector, None)
    graph.calls.clear()
    changes, again = run(connector, state)
    assert changes == []
    assert sum("root/delta" in c for c in graph.calls) == 1
    assert not any(c.startswith("content") for c in graph.calls)
    assert again["drives"][DRIVE]["link"] == state["drives"][DRIVE]["link"]


def test_edit_delete_and_copied_in_file_come_from_the_stored_delta_link(graph: FakeGraph, connector: SharePointConnector) -> None:
    a = graph.file("a.txt", "alpha")
    b = graph.file("b.txt", "beta")
    _, state = run(connector, None)
    graph.content[a] = b"alpha, edited"
    graph.change(a)
    graph.change(a)  # reported twice: the last wins
    graph.delete(b)
    old = graph.file("old.txt", "copied in from 2019")
    graph.items[old]["lastModifiedDateTime"] = "2019-01-01T00:00:00Z"
    changes, _ = run(connector, state)
    assert [c.source_id for c in changes if isinstance(c, Deleted)] == [f"{DRIVE}/{b}"]
    found = docs(changes)
    assert found[a].sections[-1].text == "alpha, edited" and found[old].updated_at is not None
    assert len([c for c in changes if c.source_id == f"{DRIVE}/{a}"]) == 1


def test_a_folder_move_rereads_its_files_with_the_new_breadcrumb(graph: FakeGraph, connector: SharePointConnector) -> None:
    policies = graph.folder("Policies")
    deep = graph.folder("2026", parent=policies)
    leave = graph.file("leave.txt", "Leave policy.", parent=deep)
    archive = graph.folder("Archive")
    _, state = run(connector, None)
    graph.change(policies, parentReference={"id": archive})  # only the folder is reported
    changes, state = run(connector, state)
    moved = docs(changes)[leave]
    assert moved.sections[0].heading_path[:5] == ("HR", "Documents", "Archive", "Policies", "2026")
    assert Folders(state["drives"][DRIVE]["folders"]).path(deep) == "Archive/Policies/2026"


def test_a_file_moved_into_an_excluded_folder_is_deleted(graph: FakeGraph, connector: SharePointConnector) -> None:
    secret = graph.folder("Secret")
    doc = graph.file("plan.txt", "the plan")
    _, state = run(connector, None)
    graph.change(doc, parentReference={"id": secret})
    changes, _ = run(connector, state)
    assert [c.source_id for c in changes if isinstance(c, Deleted)] == [f"{DRIVE}/{doc}"]


def test_an_expired_token_resyncs_the_whole_drive(graph: FakeGraph, connector: SharePointConnector) -> None:
    a = graph.file("a.txt", "alpha")
    _, state = run(connector, None)
    graph.file("b.txt", "beta")
    graph.expired_below = len(graph.log) + 1  # the stored token is now too old: 410
    changes, again = run(connector, state)
    assert {d.title for d in docs(changes).values()} == {"a.txt", "b.txt"}
    assert a in docs(changes)
    assert again["drives"][DRIVE]["link"].endswith(f"token={len(graph.log)}")


def test_a_crash_resumes_from_the_last_page_without_losing_a_change(graph: FakeGraph, connector: SharePointConnector) -> None:
    for n in range(6):
        graph.file(f"f{n}.txt", f"file {n}")
    seen: list[str] = []
    state: dict[str, Any] | None = None
    for change in connector.changes(None):
        if isinstance(change, CheckpointMark):
            state = change.state
            if len(seen) >= 3:
                break  # the process dies after its second checkpoint
        else:
            seen.append(change.source_id)
    assert state is not None and "skip=" in state["drives"][DRIVE]["link"]
    rest, _ = run(connector, state)
    titles = {c.title for c in rest if isinstance(c, Document)} | {
        graph.items[s.split("/")[1]]["name"] for s in seen}
    assert titles == {f"f{n}.txt" for n in range(6)}


def test_walk_refuses_a_page_with_neither_link(graph: FakeGraph) -> None:
    from connectors.sharepoint.errors import SharePointBadResponse

    class Broken(FakeGraph):
        def get(self, url: str, params: Any = None) -> dict[str, Any]:
            return {"value": []}

    with pytest.raises(SharePointBadResponse):
        list(walk(Broken(), DRIVE, None))  # type: ignore[arg-type]


def test_permission_sync_reads_acls_without_downloading(graph: FakeGraph, connector: SharePointConnector) -> None:
    a = graph.file("a.txt", "alpha")
    graph.calls.clear()
    graph.permissions[a] = [{"id": "l", "roles": ["read"], "link": {"scope": "organization"}}]
    [item] = list(connector.read_acls([f"{DRIVE}/{a}"]))
    assert item.acl.allows(["org:members"])  # type: ignore[union-attr]
    assert not any(c.startswith("content") for c in graph.calls)
    graph.delete(a)
    assert isinstance(next(connector.read_acls([f"{DRIVE}/{a}"])), Deleted)


def test_a_file_whose_permissions_are_refused_fails_alone(graph: FakeGraph, connector: SharePointConnector) -> None:
    from connectors.base import Failed
    from connectors.sharepoint.errors import SharePointAuthError

    hidden = graph.file("hidden.txt", "hidden")
    graph.file("open.txt", "open")
    original = graph.paged

    def paged(path: str, params: Any = None) -> Iterator[dict[str, Any]]:
        if path.endswith(f"/{hidden}/permissions"):
            raise SharePointAuthError("GET permissions -> 403: accessDenied", status=403)
        yield from original(path, params)

    graph.paged = paged  # type: ignore[method-assign]
    changes, _ = run(connector, None)
    assert [c.source_id for c in changes if isinstance(c, Failed)] == [f"{DRIVE}/{hidden}"]
    assert {d.title for d in docs(changes).values()} == {"open.txt"}
