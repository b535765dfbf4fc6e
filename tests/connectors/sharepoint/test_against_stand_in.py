"""The SharePoint connector through the sync engine against the loopback Graph + SharePoint REST
stand-in (tests/fakes/sharepoint.py), authenticated by msal at the Entra stand-in with a
certificate, as the README's "Connect SharePoint" section configures it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.base import CheckpointMark
from connectors.sharepoint.connector import SharePointConnector
from connectors.sharepoint.settings import SharePointConnectorConfig
from connectors.sync import SyncEngine
from core.db import Database, open_database
from core.memberships import principals_for
from retrieval.chunking import Chunker
from retrieval.embedding import HashEmbedder
from retrieval.index.lance import LanceIndex
from tests.fakes.entra import EntraStandIn, make_certificate
from tests.fakes.entra_fixture import entra_fixture  # noqa: F401
from tests.fakes.memory_secrets import MemorySecretStore
from tests.fakes.sharepoint import SharePointStandIn

TENANT = "11111111-2222-3333-4444-555555555555"
APP = "lore-sharepoint-app"
OID = "6f1e0000-aaaa-4bbb-8ccc-000000000003"
INNER = "6f1e0000-aaaa-4bbb-8ccc-000000000004"
EMB = HashEmbedder(64)


@pytest.fixture(name="sp")
def sp_fixture(entra: EntraStandIn) -> Iterator[SharePointStandIn]:
    with SharePointStandIn(entra, TENANT) as stand_in:
        yield stand_in


@pytest.fixture
def pem(entra: EntraStandIn, sp: SharePointStandIn) -> str:
    key, cert = make_certificate()
    entra.register_app(TENANT, APP, certificate_pem=cert)
    sp.grant_app(APP, "Sites.Read.All")
    sp.grant_app(APP, "GroupMember.Read.All")
    return key + cert


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'lore.db'}")
    yield database
    database.close()


@pytest.fixture
def engine(db: Database, tmp_path: Path) -> SyncEngine:
    return SyncEngine(db, LanceIndex(tmp_path / "index", EMB.dimension), EMB, Chunker(EMB.token_counts, 60, 10))


def connector(entra: EntraStandIn, sp: SharePointStandIn, pem: str, **settings: Any) -> SharePointConnector:
    values: dict[str, Any] = {
        "type": "sharepoint", "host": "contoso.sharepoint.com", "tenant_id": TENANT, "client_id": APP,
        "authority_url": entra.base_url, "graph_url": sp.graph_url, "rest_url": sp.rest_url,
        "sites": ["/sites/hr", "/teams/eng"], "max_retries": 3,
    }
    values.update(settings)
    secrets = MemorySecretStore()
    secrets.put("sharepoint-certificate", pem)
    return SharePointConnector.from_config("sp", SharePointConnectorConfig(**values), secrets)


def visible(engine: SyncEngine, email: str, word: str, *, member: bool = True, aad: tuple[str, ...] = ()) -> list[str]:
    principals = principals_for(engine.db, email, org_member=member) + [f"group:aad:{g}" for g in aad]
    return sorted({h.title for h in engine.index.lexical_search(word, principals, 20)})


@pytest.fixture
def tenant(sp: SharePointStandIn) -> dict[str, Any]:
    """HR (/sites/hr): members ana, visitors vic; an Eng team site (/teams/eng) for eve only."""
    hr = sp.add_site("/sites/hr", title="HR")
    hr.set_group_members(hr.members, ["ana@contoso.example"])
    hr.set_group_members(hr.visitors, ["vic@contoso.example"])
    hr.set_group_members(hr.owners, ["olga@contoso.example"])
    eng = sp.add_site("/teams/eng", title="Eng")
    eng.set_group_members(eng.members, ["eve@contoso.example"])
    lib = hr.default
    lib.add_folder("Policies/2026")
    leave = lib.add_file("Policies/2026/leave.txt", b"Leave policy: thirty days of annual leave.")
    travel = lib.add_file("Policies/travel.md", b"# Travel\n\nBook flights through the portal.")
    design = eng.default.add_file("design.md", b"# Design\n\nThe ingest pipeline uses kafka.")
    return {"hr": hr, "eng": eng, "lib": lib, "leave": leave, "travel": travel, "design": design}


def test_first_sync_site_groups_and_a_teams_site(entra: EntraStandIn, sp: SharePointStandIn, pem: str,
                                                 engine: SyncEngine, tenant: dict[str, Any]) -> None:
    tenant["hr"].add_page("Welcome.aspx", title="Welcome", html_web_parts=["<h2>Hello</h2><p>Welcome aboard, newcomer.</p>"])
    report = engine.run(connector(entra, sp, pem), "content")
    assert report.status == "succeeded", report.errors
    for reader in ("ana", "vic", "olga"):
        assert visible(engine, f"{reader}@contoso.example", "leave") == ["leave.txt"]
    assert visible(engine, "eve@contoso.example", "leave") == []  # outside the site
    assert visible(engine, "eve@contoso.example", "kafka") == ["Design"]  # the /teams/ site
    assert visible(engine, "ana@contoso.example", "kafka") == []
    assert visible(engine, "ana@contoso.example", "newcomer") == ["Welcome"]  # a site page
    assert visible(engine, "eve@contoso.example", "newcomer") == []


def test_a_site_page_with_its_own_permissions_is_not_indexed_with_the_sites_readers(
        entra: EntraStandIn, sp: SharePointStandIn, pem: str, engine: SyncEngine, tenant: dict[str, Any]) -> None:
    # Lore does not read a page's own permissions yet: such a page must not reach the site's
    # members (it would be over-shared); it is skipped, saying why.
    secret = tenant["hr"].add_page("Board.aspx", title="Board minutes",
                                   html_web_parts=["<p>The board approved the merger quietly.</p>"])
    secret.break_inheritance()
    tenant["hr"].add_page("Open.aspx", title="Open page", html_web_parts=["<p>Everyone reads the cafeteria menu.</p>"])
    report = engine.run(connector(entra, sp, pem), "content")
    assert report.status == "succeeded", report.errors
    assert visible(engine, "ana@contoso.example", "merger") == []
    assert visible(engine, "ana@contoso.example", "cafeteria") == ["Open page"]
    assert [reason for _, reason in report.skipped if "permissions of its own" in reason]
    # A page that gets permissions of its own later leaves the index at the next permission sync.
    open_page = next(pg for pg in tenant["hr"].pages if pg.name == "Open.aspx")
    open_page.break_inheritance()
    engine.run(connector(entra, sp, pem), "permissions")
    assert visible(engine, "ana@contoso.example", "cafeteria") == []
    [hit] = engine.index.lexical_search("leave", principals_for(engine.db, "ana@contoso.example", org_member=True), 5)
    assert hit.heading_path[:4] == ("HR", "Documents", "Policies", "2026")
    assert hit.url.startswith("https://contoso.sharepoint.com/sites/hr/")


def test_edit_delete_move_and_a_copied_in_old_file(entra: EntraStandIn, sp: SharePointStandIn, pem: str,
                                                   engine: SyncEngine, tenant: dict[str, Any]) -> None:
    engine.run(connector(entra, sp, pem), "content")
    lib = tenant["lib"]
    lib.edit(tenant["leave"], b"Leave policy: forty days of annual leave.")
    lib.delete(tenant["travel"])
    lib.add_folder("Archive")
    lib.move(lib.item("Policies/2026"), "Archive")
    lib.copy_in("Policies/old.txt", b"An old memo about parking.", modified=dt.datetime(2019, 1, 1, tzinfo=dt.UTC))
    report = engine.run(connector(entra, sp, pem), "content")
    assert report.status == "succeeded", report.errors
    ana = "ana@contoso.example"
    assert visible(engine, ana, "portal") == []  # deleted
    assert visible(engine, ana, "parking") == ["old.txt"]  # copied in with a 2019 date: found
    [hit] = engine.index.lexical_search("forty", principals_for(engine.db, ana, org_member=True), 5)
    assert hit.heading_path[:4] == ("HR", "Documents", "Archive", "2026")  # the folder moved


def test_permission_changes_without_content_changes(entra: EntraStandIn, sp: SharePointStandIn, pem: str,
                                                    engine: SyncEngine, tenant: dict[str, Any]) -> None:
    engine.run(connector(entra, sp, pem), "content")
    leave = tenant["leave"]
    leave.break_inheritance(copy=False)
    leave.grant("user:bob@contoso.example", "Read")
    calls = len(sp.calls)
    report = engine.run(connector(entra, sp, pem), "permissions")
    assert report.status == "succeeded", report.errors
    assert not any("/content" in path for _, path in sp.calls[calls:])  # nothing downloaded
    assert visible(engine, "bob@contoso.example", "leave") == ["leave.txt"]
    assert visible(engine, "ana@contoso.example", "leave") == []  # broken inheritance: members lose it


def test_sharing_links(entra: EntraStandIn, sp: SharePointStandIn, pem: str, engine: SyncEngine,
                       tenant: dict[str, Any]) -> None:
    eng = tenant["eng"].default
    org = eng.add_file("org.md", b"# Org\n\nThe cafeteria menu.")
    org.share_link("organization")
    people = eng.add_file("people.md", b"# People\n\nThe offsite agenda.")
    people.share_link("users", users=["yan@contoso.example"])
    anon = eng.add_file("anon.md", b"# Anon\n\nThe public brochure.")
    anon.share_link("anonymous")
    engine.run(connector(entra, sp, pem), "content")
    assert visible(engine, "zed@contoso.example", "cafeteria") == ["Org"]  # any full member
    assert visible(engine, "zed@contoso.example", "cafeteria", member=False) == []  # never a guest
    assert visible(engine, "yan@contoso.example", "offsite") == ["People"]
    assert visible(engine, "zed@contoso.example", "offsite") == []
    assert visible(engine, "zed@contoso.example", "brochure") == []  # anonymous: nobody by default
    assert visible(engine, "eve@contoso.example", "brochure") == ["Anon"]  # the site's members still
    engine.run(connector(entra, sp, pem, anonymous_link_readers=["org:members"]), "permissions")
    assert visible(engine, "zed@contoso.example", "brochure") == ["Anon"]  # as the setting says
    assert visible(engine, "zed@contoso.example", "brochure", member=False) == []


def test_every_principal_kind_reaches_exactly_its_holders(entra: EntraStandIn, sp: SharePointStandIn, pem: str,
                                                          engine: SyncEngine, tenant: dict[str, Any]) -> None:
    sp.add_aad_group(INNER, members=["deep@contoso.example"])
    sp.add_aad_group(OID, members=["gail@contoso.example"], nested=[INNER])
    hr = tenant["hr"]
    managers = hr.add_site_group("HR Managers", members=["mia@contoso.example", f"aad:{INNER}"])
    lib = hr.add_library("Restricted")
    cases = {
        "user": ("user:uma@contoso.example", {"uma"}),
        "sitegroup": (managers, {"mia", "deep"}),
        "aad": (f"aad:{OID}", {"gail", "deep"}),
        "everyone": ("everyone", {"uma", "mia", "deep", "gail", "zed", "ana"}),
    }
    for word, (principal, _) in cases.items():
        item = lib.add_file(f"{word}.txt", f"The {word}word document.".encode())
        item.break_inheritance(copy=False)
        item.grant(principal, "Read")
    limited = lib.add_file("limited.txt", b"The limitedword document.")
    limited.break_inheritance(copy=False)
    limited.grant("user:uma@contoso.example", "Limited Access")
    report = engine.run(connector(entra, sp, pem), "full")
    assert report.status == "succeeded", report.errors
    people = {"uma", "mia", "deep", "gail", "zed", "ana"}
    for word, (_, holders) in cases.items():
        found = {p for p in people if visible(engine, f"{p}@contoso.example", f"{word}word")}
        assert found == holders, word
    assert not any(visible(engine, f"{p}@contoso.example", "limitedword") for p in people)
    # A Teams user holding the Entra group directly (the adapter's group:aad:<id>) reads it too
    assert visible(engine, "teamsuser@contoso.example", "aadword", aad=(OID,)) == ["aad.txt"]


def test_a_crash_resumes_from_the_checkpoint(entra: EntraStandIn, sp: SharePointStandIn, pem: str,
                                             engine: SyncEngine, tenant: dict[str, Any]) -> None:
    sp.page_size = 2
    lib = tenant["lib"]
    for n in range(8):
        lib.add_file(f"bulk/f{n}.txt", f"bulk file number {n}".encode())

    class Crashing(SharePointConnector):
        marks = 0

        def changes(self, checkpoint: Any) -> Iterator[Any]:
            for change in super().changes(checkpoint):
                yield change
                if isinstance(change, CheckpointMark):
                    Crashing.marks += 1
                    if Crashing.marks == 3:
                        raise RuntimeError("the process died")

    base = connector(entra, sp, pem)
    crashing = Crashing(base.name, base.scope, base.client, site_pages=False)
    first = engine.run(crashing, "content")
    assert first.status != "succeeded"
    calls = len(sp.calls)
    second = engine.run(connector(entra, sp, pem), "content")
    assert second.status == "succeeded", second.errors
    assert len(visible(engine, "ana@contoso.example", "bulk")) == 8
    # resumed: the first pages were not listed again from the start of the drive
    resumed = [p for _, p in sp.calls[calls:] if "root/delta" in p]
    assert resumed and "token" in resumed[0]  # a stored next link, not a fresh enumeration


def test_throttling_and_expired_delta_tokens(entra: EntraStandIn, sp: SharePointStandIn, pem: str,
                                             engine: SyncEngine, tenant: dict[str, Any]) -> None:
    sp.throttle(2, status=429, retry_after=0)
    assert engine.run(connector(entra, sp, pem), "content").status == "succeeded"
    tenant["lib"].add_file("new.txt", b"A brand new zebra file.")
    sp.expire_delta_tokens(tenant["lib"])
    report = engine.run(connector(entra, sp, pem), "content")
    assert report.status == "succeeded", report.errors
    assert visible(engine, "ana@contoso.example", "zebra") == ["new.txt"]


def test_no_change_delta_sync_costs_the_same_few_calls(entra: EntraStandIn, sp: SharePointStandIn, pem: str,
                                                       engine: SyncEngine, tenant: dict[str, Any]) -> None:
    engine.run(connector(entra, sp, pem), "content")
    before = len(sp.calls)
    engine.run(connector(entra, sp, pem), "content")
    small = len(sp.calls) - before
    for n in range(40):
        tenant["lib"].add_file(f"more/m{n}.txt", f"more text {n}".encode())
    engine.run(connector(entra, sp, pem), "content")
    before = len(sp.calls)
    engine.run(connector(entra, sp, pem), "content")
    assert len(sp.calls) - before == small


def test_sites_selected_and_a_secret_credential(entra: EntraStandIn, sp: SharePointStandIn, engine: SyncEngine,
                                                tenant: dict[str, Any]) -> None:
    key, cert = make_certificate()
    entra.register_app(TENANT, "selected-app", certificate_pem=cert)
    sp.grant_app("selected-app", "Sites.Selected")
    sp.grant_app_site("selected-app", tenant["eng"], "read")
    only_eng = connector(entra, sp, key + cert, client_id="selected-app", sites=["/teams/eng"])
    assert engine.run(only_eng, "content").status == "succeeded"
    assert visible(engine, "eve@contoso.example", "kafka") == ["Design"]
    denied = connector(entra, sp, key + cert, client_id="selected-app", sites=["/sites/hr"])
    report = engine.run(denied, "content")
    assert report.status != "succeeded" and any("403" in e for e in report.errors)
