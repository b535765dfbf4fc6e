"""The Confluence connector through the sync engine, against the loopback stand-in (driven by
the real atlassian-python-api transport)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connectors.confluence.connector import ConfluenceConnector
from connectors.confluence.settings import ConfluenceConnectorConfig
from connectors.sync import SyncEngine
from core.db import Database, DocumentRow, open_database
from core.memberships import members_of, principals_for
from retrieval.chunking import Chunker
from retrieval.embedding import HashEmbedder
from retrieval.index.lance import LanceIndex
from tests.fakes.confluence_demo import EMAIL, TOKEN, seed_demo
from tests.fakes.confluence_stand_in import ConfluenceStandIn
from tests.fakes.memory_secrets import MemorySecretStore

EMB = HashEmbedder(64)
SEARCH = "/wiki/rest/api/content/search"


@pytest.fixture
def wiki() -> Iterator[ConfluenceStandIn]:
    with ConfluenceStandIn.serving() as stand_in:
        seed_demo(stand_in)
        yield stand_in


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'lore.db'}")
    yield database
    database.close()


@pytest.fixture
def engine(db: Database, tmp_path: Path) -> SyncEngine:
    return SyncEngine(db, LanceIndex(tmp_path / "index", EMB.dimension), EMB, Chunker(EMB.token_counts, 60, 10))


def connector(wiki: ConfluenceStandIn, **settings: Any) -> ConfluenceConnector:
    values: dict[str, Any] = {
        "type": "confluence", "url": wiki.wiki_url, "email": EMAIL,
        "user_emails": {"carol-account": "carol@example.com"}, "max_retries": 2,
    }
    values.update(settings)
    secrets = MemorySecretStore()
    secrets.put("confluence-api-token", TOKEN)
    return ConfluenceConnector.from_config("wiki", ConfluenceConnectorConfig(**values), secrets)


def page_id(wiki: ConfluenceStandIn, title: str) -> str:
    return next(p.id for p in wiki.pages.values() if p.title == title)


def visible(engine: SyncEngine, email: str, word: str, *, member: bool = True) -> list[str]:
    principals = principals_for(engine.db, email, org_member=member)
    return sorted(h.title for h in engine.index.lexical_search(word, principals, 20))


def test_first_sync_enforces_space_permissions_and_stacked_restrictions(
    wiki: ConfluenceStandIn, engine: SyncEngine
) -> None:
    report = engine.run(connector(wiki, exclude_labels=["archive-me"]), "content")
    assert report.status == "succeeded", report.errors
    assert members_of(engine.db, "group:confluence:wiki:g-engineering") == {"alice@example.com", "carol@example.com"}
    # ENG is readable by the engineering group; carol's hidden email comes from the mapping
    assert "On-call Runbook" in visible(engine, "carol@example.com", "kubectl")
    assert visible(engine, "bob@example.com", "kubectl") == []
    # the incident page is restricted to alice, and its child inherits that restriction
    assert visible(engine, "alice@example.com", "rotate") == ["Incident Follow-ups"]
    assert visible(engine, "carol@example.com", "rotate") == []
    assert visible(engine, "carol@example.com", "timeline") == []
    # labels excluded, anonymous space denied by default, attachment readable like its page
    assert visible(engine, "alice@example.com", "jenkins") == []
    legacy = page_id(wiki, "Legacy Deploy Process")
    assert (legacy, "label 'archive-me' is excluded by configuration") in report.skipped
    assert visible(engine, "bob@example.com", "buddy") == ["Onboarding Checklist: first-week.txt"]
    assert visible(engine, "alice@example.com", "buddy") == []
    # every request stayed under the wiki context path (the library's pager drops /wiki)
    paths = {c.path for c in wiki.calls("")}
    assert paths and all(p.startswith(("/wiki/rest/api/", "/wiki/download/")) for p in paths)


def test_documents_carry_text_structure_and_links(wiki: ConfluenceStandIn, engine: SyncEngine) -> None:
    engine.run(connector(wiki), "content")
    [hit] = [h for h in engine.index.lexical_search("kubectl", ["group:confluence:wiki:g-engineering"], 5)]
    assert "kubectl -n ingest rollout restart" in hit.text
    [row] = [h for h in engine.index.lexical_search("escalation", ["group:confluence:wiki:g-engineering"], 5)]
    assert "Service | Owner | Escalation" in row.text
    assert hit.url.startswith(wiki.wiki_url + "/spaces/ENG/pages/")
    assert hit.heading_path[:2] == ("Engineering", "Engineering Handbook")  # the breadcrumb


def test_no_change_incremental_sync_costs_the_same_few_calls(wiki: ConfluenceStandIn, engine: SyncEngine) -> None:
    engine.run(connector(wiki), "content")
    before = len(wiki.calls(""))
    report = engine.run(connector(wiki), "content")
    calls = wiki.calls("")[before:]
    assert report.counts()["indexed"] == 0 and report.chunks_written == 0
    assert len([c for c in calls if c.path == SEARCH]) == 1
    assert "lastmodified >=" in next(c for c in calls if c.path == SEARCH).query["cql"]
    for i in range(30):  # a bigger wiki, all of it old: the next no-change run costs the same
        wiki.add_page("ENG", f"Note {i}", f"<p>note {i}</p>", modified=datetime(2026, 1, 1, tzinfo=UTC))
    engine.run(connector(wiki), "full")
    before = len(wiki.calls(""))
    engine.run(connector(wiki), "content")
    # (the first no-change run may also re-read items inside the overlap window: never more)
    assert len(wiki.calls("")[before:]) <= len(calls) <= 5


def test_an_edit_is_picked_up_incrementally(wiki: ConfluenceStandIn, engine: SyncEngine) -> None:
    engine.run(connector(wiki), "content")
    wiki.edit_page(page_id(wiki, "Holiday Policy"), "<p>Everyone gets 30 days of paid holiday.</p>")
    report = engine.run(connector(wiki), "content")
    assert report.indexed == [page_id(wiki, "Holiday Policy")]
    assert "30 days" in engine.index.lexical_search("holiday", ["group:confluence:wiki:g-hr"], 5)[0].text


def owners(db: Database) -> dict[str, str | None]:
    with db.session() as s:
        return {r.source_id: r.owner for r in s.execute(select(DocumentRow)).scalars()}


def test_a_pages_owner_is_its_last_editors_display_name(wiki: ConfluenceStandIn, engine: SyncEngine) -> None:
    engine.run(connector(wiki), "content")
    holiday, onboarding = page_id(wiki, "Holiday Policy"), page_id(wiki, "Onboarding Checklist")
    [attachment] = [sid for sid in owners(engine.db) if sid.startswith(onboarding + "/")]
    first = owners(engine.db)
    assert first[holiday] == "Bob Example"  # never edited: its creator
    assert first[page_id(wiki, "On-call Runbook")] == "Carol"  # the name, not the hidden email
    assert first[attachment] == "Bob Example"  # whoever uploaded its current version

    wiki.edit_page(holiday, "<p>Everyone gets 30 days of paid holiday.</p>", by="alice-account")
    report = engine.run(connector(wiki), "content")
    assert report.indexed == [holiday] and owners(engine.db)[holiday] == "Alice Example"

    # A new version with the same text by someone else: the row's owner, nothing re-embedded.
    wiki.edit_page(holiday, by="carol-account")
    report = engine.run(connector(wiki), "content")
    assert report.owner_updated == [holiday] and report.chunks_written == 0
    assert owners(engine.db)[holiday] == "Carol"


def test_an_editor_without_a_display_name_leaves_the_creator_as_owner(
    wiki: ConfluenceStandIn, engine: SyncEngine
) -> None:
    wiki.add_user("dan-account", "dan@example.com")  # no display name: Confluence shows the id
    wiki.add_user("erin-account", "erin@example.com", display_name="erin@example.com")
    holiday, welcome = page_id(wiki, "Holiday Policy"), page_id(wiki, "Welcome to Northwind")
    wiki.edit_page(holiday, by="dan-account")
    wiki.edit_page(welcome, by="erin-account")
    engine.run(connector(wiki, anonymous_access="org-members"), "content")
    stored = owners(engine.db)
    assert stored[holiday] == "Bob Example" and stored[welcome] == "Bob Example"
    # Nobody with a name at all (a creator whose account is gone): no owner, never an id.
    wiki.pages[holiday].author = "gone-account"
    wiki.edit_page(holiday, "<p>Everyone gets 31 days of paid holiday.</p>")
    engine.run(connector(wiki, anonymous_access="org-members"), "content")
    assert owners(engine.db)[holiday] is None
    assert not any(v and ("@" in v or v.endswith("-account")) for v in owners(engine.db).values())


def test_a_restriction_added_without_a_new_version_reaches_the_index(
    wiki: ConfluenceStandIn, engine: SyncEngine
) -> None:
    engine.run(connector(wiki), "content")
    assert "On-call Runbook" in visible(engine, "carol@example.com", "kubectl")
    wiki.set_read_restrictions(page_id(wiki, "Engineering Handbook"), users=["alice-account"])
    assert engine.run(connector(wiki), "content").acl_updated == []  # no version change: unseen
    report = engine.run(connector(wiki), "permissions")
    assert report.chunks_written == 0
    assert page_id(wiki, "On-call Runbook") in report.acl_updated  # a descendant: stacked
    assert visible(engine, "carol@example.com", "kubectl") == []
    assert "On-call Runbook" in visible(engine, "alice@example.com", "kubectl")


def test_a_page_moved_under_a_restricted_parent_is_restricted(wiki: ConfluenceStandIn, engine: SyncEngine) -> None:
    engine.run(connector(wiki), "content")
    wiki.pages[page_id(wiki, "On-call Runbook")].parent_id = page_id(wiki, "Security Incident 2026-01")
    engine.run(connector(wiki), "permissions")
    assert visible(engine, "carol@example.com", "kubectl") == []
    assert "On-call Runbook" in visible(engine, "alice@example.com", "kubectl")


def test_trashed_archived_purged_pages_and_removed_spaces_leave_the_index(
    wiki: ConfluenceStandIn, engine: SyncEngine
) -> None:
    engine.run(connector(wiki), "content")
    wiki.trash_page(page_id(wiki, "Holiday Policy"))
    wiki.archive_page(page_id(wiki, "Legacy Deploy Process"))
    assert sorted(engine.run(connector(wiki), "permissions").deleted) == sorted(
        [page_id(wiki, "Holiday Policy"), page_id(wiki, "Legacy Deploy Process")]
    )
    wiki.purge_page(page_id(wiki, "Platform update: January"))
    wiki.remove_space("HR")
    report = engine.run(connector(wiki), "full")
    assert report.status == "succeeded", report.errors
    gone = set(report.deleted)
    assert page_id(wiki, "Platform update: January") in gone
    assert visible(engine, "bob@example.com", "buddy") == [] and visible(engine, "bob@example.com", "starter") == []


def test_group_membership_changes_follow(wiki: ConfluenceStandIn, engine: SyncEngine) -> None:
    engine.run(connector(wiki), "content")
    wiki.groups["g-engineering"].members.remove("carol-account")
    report = engine.run(connector(wiki), "permissions")
    assert report.groups_changed
    assert visible(engine, "carol@example.com", "kubectl") == []
    assert "On-call Runbook" in visible(engine, "alice@example.com", "kubectl")


def test_a_user_outside_the_space_never_gets_the_page(wiki: ConfluenceStandIn, engine: SyncEngine) -> None:
    wiki.add_user("dave-account", "dave@example.com")
    wiki.add_page("ENG", "Offsite plan", "<p>The offsite is in Lisbon.</p>",
                  restrictions={"users": ["alice-account", "dave-account"]})
    engine.run(connector(wiki), "content")
    assert visible(engine, "alice@example.com", "lisbon") == ["Offsite plan"]
    assert visible(engine, "dave@example.com", "lisbon") == []  # named by the page, not in the space


def test_a_hidden_email_without_a_mapping_gets_nothing(wiki: ConfluenceStandIn, engine: SyncEngine) -> None:
    engine.run(connector(wiki, user_emails={}), "content")
    assert members_of(engine.db, "group:confluence:wiki:g-engineering") == {"alice@example.com"}
    assert visible(engine, "carol@example.com", "kubectl") == []


def test_anonymous_spaces_map_to_org_members_only_when_configured(
    wiki: ConfluenceStandIn, engine: SyncEngine
) -> None:
    engine.run(connector(wiki), "content")
    public = [p.title for p in wiki.pages.values() if p.space_key == "PUB"]
    assert public and all(visible(engine, "bob@example.com", t.split()[0].lower()) == [] for t in public)
    engine.run(connector(wiki, anonymous_access="org-members"), "full")
    word = public[0].split()[0].lower()
    assert public[0] in visible(engine, "bob@example.com", word)
    assert visible(engine, "bob@example.com", word, member=False) == []  # guests are not members


def test_a_draft_ancestors_restriction_still_applies(wiki: ConfluenceStandIn, engine: SyncEngine) -> None:
    draft = wiki.add_page("ENG", "Draft reorg", "<p>draft</p>", status="draft",
                          restrictions={"users": ["alice-account"]})
    wiki.add_page("ENG", "Reorg FAQ", "<p>Questions about the reorganisation.</p>", parent_id=draft.id)
    engine.run(connector(wiki), "content")
    assert any(c.path.endswith(f"/content/{draft.id}/restriction/byOperation/read") and c.status == 404
               for c in wiki.calls(""))
    assert visible(engine, "alice@example.com", "reorganisation") == ["Reorg FAQ"]
    assert visible(engine, "carol@example.com", "reorganisation") == []


def test_a_crash_mid_run_resumes_from_the_checkpoint(wiki: ConfluenceStandIn, engine: SyncEngine) -> None:
    seen: list[str] = []

    def progress(source_id: str) -> None:
        seen.append(source_id)
        if len(seen) == 2:  # the first result page is in; the next search request fails
            wiki.fail_next(SEARCH, 400)

    first = engine.run(connector(wiki, page_size=2), "content", progress=progress)
    assert first.status == "failed" and len(first.indexed) == 2
    checkpoint = engine.state.load("confluence:wiki", "content")
    assert checkpoint is not None
    before = len(wiki.calls(SEARCH))
    second = engine.run(connector(wiki, page_size=2), "content")
    assert second.status == "succeeded", second.errors
    resumed = wiki.calls(SEARCH)[before]
    assert "lastmodified >=" in resumed.query["cql"]  # resumed, not restarted from zero
    assert set(first.indexed).isdisjoint(second.indexed)


def test_rate_limits_are_waited_out(wiki: ConfluenceStandIn, engine: SyncEngine) -> None:
    wiki.fail_next(SEARCH, 429, retry_after="1")
    report = engine.run(connector(wiki), "content")
    assert report.status == "succeeded"
    assert [c.status for c in wiki.calls(SEARCH)][:2] == [429, 200]


def test_a_source_that_goes_down_deletes_nothing(wiki: ConfluenceStandIn, engine: SyncEngine) -> None:
    engine.run(connector(wiki), "content")
    indexed = engine.index.count_chunks()
    wiki.fail_next("/wiki/rest/api/", 401, times=50)
    for kind in ("content", "permissions", "full"):
        assert engine.run(connector(wiki), kind).status == "failed"
    wiki.fail_next("/wiki/rest/api/content/search", 200, garbage=True, times=50)
    assert engine.run(connector(wiki), "full").status == "failed"
    assert engine.index.count_chunks() == indexed


def test_cql_dates_follow_the_api_users_time_zone(engine: SyncEngine) -> None:
    with ConfluenceStandIn.serving(cql_timezone="America/Los_Angeles") as wiki:
        seed_demo(wiki)
        engine.run(connector(wiki, cql_timezone="America/Los_Angeles"), "content")
        wiki.edit_page(page_id(wiki, "Holiday Policy"), "<p>Now 31 days.</p>")
        assert engine.run(connector(wiki, cql_timezone="America/Los_Angeles"), "content").indexed
        # the pitfall: the same query written in UTC misses an edit made minutes ago
        wiki.edit_page(page_id(wiki, "Holiday Policy"), "<p>Now 32 days.</p>",
                       modified=datetime.now(UTC) - timedelta(minutes=1))
        assert engine.run(connector(wiki), "content").indexed == []


async def test_two_replicas_run_a_connector_once(wiki: ConfluenceStandIn, pg_schema: str, tmp_path: Path) -> None:
    import asyncio

    from connectors.sync.scheduler import LeaseHeld, run_leased
    from core.leases import LeaseManager
    from tests.conftest import PG_URL

    dbs = [open_database(PG_URL, pg_schema) for _ in range(2)]
    try:
        engines = [
            SyncEngine(d, LanceIndex(tmp_path / f"index{i}", EMB.dimension), EMB, Chunker(EMB.token_counts, 60, 10))
            for i, d in enumerate(dbs)
        ]
        wiki.fail_next(SEARCH, 429, retry_after="1")  # keeps replica 1 inside its run for a second

        async def replica(i: int) -> list[Any]:
            await asyncio.sleep(0.3 * i)
            return await run_leased(engines[i], LeaseManager(dbs[i]), "wiki", connector(wiki), ["content"],
                                    holder=f"replica-{i}", lease_seconds=30)

        results = await asyncio.gather(replica(0), replica(1), return_exceptions=True)
        assert [r.status for r in results[0]] == ["succeeded"]  # type: ignore[union-attr]
        assert isinstance(results[1], LeaseHeld)
        content_searches = [c for c in wiki.calls(SEARCH) if c.status == 200 and "attachment" in c.query["cql"]]
        assert len(content_searches) == 1  # one replica read the content
    finally:
        for d in dbs:
            d.close()


def test_an_attachment_removed_from_a_live_page_leaves_at_the_permission_sync(
    wiki: ConfluenceStandIn, engine: SyncEngine
) -> None:
    engine.run(connector(wiki), "content")
    [attachment] = wiki.attachments.values()
    assert visible(engine, "bob@example.com", "buddy") == ["Onboarding Checklist: first-week.txt"]
    wiki.remove_attachment(attachment.id)
    report = engine.run(connector(wiki), "permissions")
    assert report.deleted == [f"{attachment.page_id}/{attachment.id}"]
    assert visible(engine, "bob@example.com", "buddy") == []
