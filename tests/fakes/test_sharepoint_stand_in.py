"""The SharePoint stand-in itself: each behaviour its docstring promises, through msal and httpx."""

from __future__ import annotations

import datetime as dt
import os
import resource
from collections.abc import Iterator
from typing import Any

import httpx
import msal
import pytest

from tests.fakes.entra import EntraStandIn, make_certificate
from tests.fakes.entra_fixture import entra_fixture  # noqa: F401
from tests.fakes.sharepoint import SharePointStandIn

TENANT = "11111111-2222-3333-4444-555555555555"
APP, SECRET_APP = "app-cert", "app-secret"
GRAPH = "https://graph.microsoft.com/.default"
SP_SCOPE = "https://contoso.sharepoint.com/.default"


@pytest.fixture(name="sp")
def sp_fixture(entra: EntraStandIn) -> Iterator[SharePointStandIn]:
    with SharePointStandIn(entra, TENANT) as stand_in:
        yield stand_in


def _token(entra: EntraStandIn, scope: str, *, certificate: bool = True) -> str:
    if certificate:
        key, cert = make_certificate()
        entra.register_app(TENANT, APP, certificate_pem=cert)
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes

        thumb = x509.load_pem_x509_certificate(cert.encode()).fingerprint(hashes.SHA1()).hex()
        credential: Any = {"private_key": key, "thumbprint": thumb}
        client = APP
    else:
        entra.register_app(TENANT, SECRET_APP, secret="s3cret-value")
        credential, client = "s3cret-value", SECRET_APP
    app = msal.ConfidentialClientApplication(client, client_credential=credential,
                                             authority=entra.authority(TENANT), instance_discovery=False)
    result = app.acquire_token_for_client(scopes=[scope])
    assert "access_token" in result, result
    return str(result["access_token"])


@pytest.fixture(name="graph")
def graph_client(entra: EntraStandIn, sp: SharePointStandIn) -> Iterator[httpx.Client]:
    sp.grant_app(APP, "Sites.Read.All")
    with httpx.Client(base_url=sp.graph_url, headers={"Authorization": "Bearer " + _token(entra, GRAPH)}) as c:
        yield c


def _delta(client: httpx.Client, url: str) -> tuple[list[dict[str, Any]], str, int]:
    items: list[dict[str, Any]] = []
    pages = 0
    while True:
        body = client.get(url).raise_for_status().json()
        pages += 1
        items += body["value"]
        if "@odata.deltaLink" in body:
            return items, body["@odata.deltaLink"], pages
        url = body["@odata.nextLink"]


def test_tokens_are_validated_and_rest_refuses_secret_tokens(entra: EntraStandIn, sp: SharePointStandIn) -> None:
    site = sp.add_site("/sites/hr", title="HR")
    assert httpx.get(f"{sp.graph_url}/sites/{site.id}").json()["error"]["code"] == "InvalidAuthenticationToken"
    wrong_audience = _token(entra, SP_SCOPE)
    r = httpx.get(f"{sp.graph_url}/sites/{site.id}", headers={"Authorization": "Bearer " + wrong_audience})
    assert r.status_code == 401 and r.json()["error"]["message"].startswith("Access token validation")
    secret_sp = _token(entra, SP_SCOPE, certificate=False)
    sp.grant_app(SECRET_APP, "Sites.Read.All")
    r = httpx.get(f"{sp.rest_url}/sites/hr/_api/web", headers={
        "Authorization": "Bearer " + secret_sp, "Accept": "application/json;odata=nometadata"})
    assert r.status_code == 401 and r.json() == {"error_description": "Unsupported app only token."}
    secret_graph = _token(entra, GRAPH, certificate=False)
    r = httpx.get(f"{sp.graph_url}/sites/{site.id}", headers={"Authorization": "Bearer " + secret_graph})
    assert r.status_code == 200 and r.json()["displayName"] == "HR"


def test_sites_selected_reaches_only_granted_sites(entra: EntraStandIn, sp: SharePointStandIn) -> None:
    hr, eng = sp.add_site("/sites/hr", title="HR"), sp.add_site("/teams/eng", title="Eng")
    headers = {"Authorization": "Bearer " + _token(entra, GRAPH)}
    r = httpx.get(f"{sp.graph_url}/sites/{hr.id}/drives", headers=headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "accessDenied"
    sp.grant_app_site(APP, eng, "read")
    by_path = httpx.get(f"{sp.graph_url}/sites/contoso.sharepoint.com:/teams/eng", headers=headers).json()
    assert by_path["id"] == eng.id and by_path["webUrl"] == "https://contoso.sharepoint.com/teams/eng"
    assert httpx.get(f"{sp.graph_url}/sites/{hr.id}/drives", headers=headers).status_code == 403
    drives = httpx.get(f"{sp.graph_url}/sites/{eng.id}/drives", headers=headers).json()["value"]
    assert [d["name"] for d in drives] == ["Documents"]
    assert httpx.get(f"{sp.graph_url}/drives/{hr.default.id}/root/delta", headers=headers).status_code == 403
    found = httpx.get(f"{sp.graph_url}/sites", params={"search": "*"}, headers=headers).json()["value"]
    assert [s["id"] for s in found] == [eng.id]
    sp.grant_app(APP, "Sites.Read.All")
    found = httpx.get(f"{sp.graph_url}/sites", params={"search": "*"}, headers=headers).json()["value"]
    assert {s["id"] for s in found} == {hr.id, eng.id}


def test_delta_pages_and_changes(sp: SharePointStandIn, graph: httpx.Client) -> None:
    site = sp.add_site("/sites/hr")
    lib = site.default
    files = [lib.add_file(f"Policies/f{n}.txt", b"v1 %d" % n) for n in range(7)]
    items, link, pages = _delta(graph, f"/drives/{lib.id}/root/delta?$top=3")
    assert pages == 3 and len(items) == 9  # root, folder, 7 files
    assert all("path" not in i["parentReference"] and "cTag" not in i for i in items)
    by_name = {i["name"]: i for i in items}
    assert "root" in by_name["root"] and "folder" in by_name["Policies"]
    assert by_name["f0.txt"]["parentReference"]["id"] == by_name["Policies"]["id"]
    assert by_name["f0.txt"]["size"] == 4 and by_name["f0.txt"]["file"]["mimeType"] == "text/plain"
    again, link2, _ = _delta(graph, link)
    assert again == []
    lib.edit(files[1], b"v2")
    lib.edit(files[1], b"v3 final")
    lib.delete(files[2])
    lib.move(files[3], "Archive", new_name="moved.txt")
    old = lib.copy_in("Policies/old.pdf", b"%PDF", modified=dt.datetime(2019, 1, 1, tzinfo=dt.UTC))
    changed, link3, _ = _delta(graph, link2)
    ids = [c["id"] for c in changed]
    assert len(ids) == len(set(ids))
    got = {c["id"]: c for c in changed}
    assert got[files[1].id]["size"] == len(b"v3 final")
    assert got[files[2].id]["deleted"] == {"state": "deleted"} and "name" not in got[files[2].id]
    archive = lib.item("Archive")
    assert got[files[3].id]["name"] == "moved.txt"
    assert got[files[3].id]["parentReference"]["id"] == archive.id and archive.id in got
    assert got[old.id]["lastModifiedDateTime"] == "2019-01-01T00:00:00Z"
    assert set(got) == {files[1].id, files[2].id, files[3].id, old.id, archive.id}
    full = graph.get(f"/drives/{lib.id}/items/{files[3].id}").json()
    assert full["parentReference"]["path"] == f"/drives/{lib.id}/root:/Archive" and "cTag" in full
    # a folder move reports the folder only (its descendants keep their ids)
    lib.move(lib.item("Policies"), "Archive")
    moved, _, _ = _delta(graph, link3)
    assert [m["name"] for m in moved] == ["Policies"]
    # a fresh enumeration sends a moved folder before its children, whatever the log's order
    enumerated, _, _ = _delta(graph, f"/drives/{lib.id}/root/delta?$top=2")
    order = [e["id"] for e in enumerated]
    policies = lib.item("Archive/Policies")
    assert order.index(policies.id) < order.index(files[0].id)
    assert order.index(archive.id) < order.index(policies.id) and len(order) == len(set(order))
    latest = graph.get(f"/drives/{lib.id}/root/delta", params={"token": "latest"}).json()
    assert latest["value"] == [] and "@odata.deltaLink" in latest


def test_expired_token_answers_410_with_a_restart(sp: SharePointStandIn, graph: httpx.Client) -> None:
    lib = sp.add_site("/sites/hr").default
    lib.add_file("a.txt", b"a")
    _, link, _ = _delta(graph, f"/drives/{lib.id}/root/delta")
    sp.expire_delta_tokens(lib)
    r = graph.get(link)
    assert r.status_code == 410
    assert r.json()["error"]["code"] == "resyncRequired"
    assert r.json()["error"]["innerError"]["code"] == "resyncChangesApplyDifferences"
    items, _, _ = _delta(graph, r.headers["Location"])
    assert {i["name"] for i in items} == {"root", "a.txt"}


def test_content_redirects_to_an_expiring_preauthenticated_url(sp: SharePointStandIn, graph: httpx.Client) -> None:
    lib = sp.add_site("/sites/hr").default
    item = lib.add_file("big.bin", os.urandom(300_000))
    r = graph.get(f"/drives/{lib.id}/items/{item.id}/content")
    assert r.status_code == 302
    target = r.headers["Location"]
    assert httpx.get(target).content == item.content  # no Authorization needed
    assert httpx.get(target, headers={"Authorization": "Bearer not-checked"}).content == item.content
    assert graph.get(f"/sites/{lib.site.id}/drive").json()["id"] == lib.id
    sp.expire_download_urls()
    assert httpx.get(target).status_code == 401


def test_permissions_inherited_unique_and_links(sp: SharePointStandIn, graph: httpx.Client) -> None:
    site = sp.add_site("/sites/hr", title="HR")
    lib = site.default
    plain = lib.add_file("plain.docx", b"x")
    secret = lib.add_file("Secret/pay.xlsx", b"y")
    site.grant("aad:g-1", "Read")
    site.grant("user:lim@contoso.example", "Limited Access")
    perms = graph.get(f"/drives/{lib.id}/items/{plain.id}/permissions").json()["value"]
    assert all(p["inheritedFrom"]["id"] == lib.root.id for p in perms)
    names = {p["grantedToV2"].get("siteGroup", {}).get("displayName") for p in perms}
    assert {"HR Owners", "HR Members", "HR Visitors"} <= names
    assert {p["roles"][0] for p in perms} == {"owner", "write", "read"}
    assert any(p["grantedToV2"].get("group", {}).get("id") == "g-1" for p in perms)
    assert not any("lim@" in str(p) for p in perms)  # Limited Access is not a Graph permission
    secret.break_inheritance()
    secret.grant("user:boss@contoso.example", "Read")
    perms = graph.get(f"/drives/{lib.id}/items/{secret.id}/permissions").json()["value"]
    assert [p["grantedToV2"]["user"]["email"] for p in perms] == ["boss@contoso.example"]
    assert "inheritedFrom" not in perms[0]
    org = plain.share_link("organization")
    plain.share_link("users", users=["y@contoso.example"])
    plain.share_link("anonymous")
    perms = graph.get(f"/drives/{lib.id}/items/{plain.id}/permissions").json()["value"]
    links = {p["link"]["scope"]: p for p in perms if "link" in p}
    assert set(links) == {"organization", "users", "anonymous"} and links["organization"]["id"] == org.id
    assert [i["user"]["email"] for i in links["users"]["grantedToIdentitiesV2"]] == ["y@contoso.example"]
    assert any(p["grantedToV2"].get("siteGroup", {}).get("displayName") == "HR Members" for p in perms)
    assert graph.get(f"/drives/{lib.id}/items/{plain.id}").json()["shared"]["scope"] == "anonymous"


def test_rest_role_assignments_and_site_groups(entra: EntraStandIn, sp: SharePointStandIn) -> None:
    site = sp.add_site("/teams/eng", title="Eng")
    sp.grant_app(APP, "Sites.Read.All")
    sp.rest_page_size = 2
    site.set_group_members(site.members, ["a@contoso.example", "b@contoso.example", "aad:g-9"])
    managers = site.add_site_group("Eng Managers", members=["m@contoso.example"])
    site.grant(managers, "Read")
    site.grant("everyone", "Read")
    item = site.default.add_file("Specs/x.docx", b"x")
    client = httpx.Client(base_url=f"{sp.rest_url}/teams/eng/_api/", headers={
        "Authorization": "Bearer " + _token(entra, SP_SCOPE), "Accept": "application/json;odata=nometadata"})

    def pages(url: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while url:
            body = client.get(url).raise_for_status().json()
            out += body["value"]
            url = body.get("odata.nextLink", "")
        return out

    rows = pages("web/roleassignments?$expand=Member,RoleDefinitionBindings")
    by_title = {r["Member"]["Title"]: r for r in rows}
    assert by_title["Eng Members"]["Member"]["PrincipalType"] == 8
    assert by_title["Eng Members"]["RoleDefinitionBindings"][0]["Name"] == "Edit"
    assert by_title["Everyone except external users"]["Member"]["LoginName"].startswith(
        "c:0-.f|rolemanager|spo-grid-all-users/")
    users = pages(f"web/sitegroups/getbyid({site.members.id})/users")
    assert [u.get("Email") for u in users] == ["a@contoso.example", "b@contoso.example", ""]
    assert users[2]["LoginName"] == "c:0t.c|tenant|g-9" and users[2]["PrincipalType"] == 4
    base = f"web/lists(guid'{site.default.list_id}')/items({item.list_item_id})"
    assert client.get(base + "?$select=HasUniqueRoleAssignments").json() == {"HasUniqueRoleAssignments": False}
    inherited = pages(base + "/roleassignments?$expand=Member,RoleDefinitionBindings")
    assert {r["Member"]["Title"] for r in inherited} == set(by_title)
    item.break_inheritance()
    item.grant("user:solo@contoso.example", "Read")
    assert client.get(base + "?$select=HasUniqueRoleAssignments").json() == {"HasUniqueRoleAssignments": True}
    own = pages(base + "/roleassignments?$expand=Member,RoleDefinitionBindings")
    assert [r["Member"]["Email"] for r in own] == ["solo@contoso.example"]
    assert client.get("web", headers={"Accept": "application/xml"}).headers["Content-Type"].startswith(
        "application/atom+xml")


def test_transitive_members_paged_and_needs_a_directory_grant(sp: SharePointStandIn, graph: httpx.Client) -> None:
    sp.add_aad_group("outer", members=["a@contoso.example"], nested=["inner"])
    sp.add_aad_group("inner", members=[f"u{n}@contoso.example" for n in range(5)], nested=["outer"])
    r = graph.get("/groups/outer/transitiveMembers")
    assert r.status_code == 403 and r.json()["error"]["code"] == "Authorization_RequestDenied"
    sp.grant_app(APP, "GroupMember.Read.All")
    url, seen = "/groups/outer/transitiveMembers?$top=2", []
    while url:
        body = graph.get(url).raise_for_status().json()
        seen += body["value"]
        url = body.get("@odata.nextLink", "")
    users = sorted(m["mail"] for m in seen if m["@odata.type"] == "#microsoft.graph.user")
    assert users == sorted(["a@contoso.example"] + [f"u{n}@contoso.example" for n in range(5)])
    assert [m["id"] for m in seen if m["@odata.type"] == "#microsoft.graph.group"] == ["inner"]


def test_site_pages_with_web_parts(sp: SharePointStandIn, graph: httpx.Client) -> None:
    site = sp.add_site("/sites/hr")
    page = site.add_page("Welcome.aspx", title="Welcome", html_web_parts=["<h2>Hi</h2><p>there</p>", "<p>two</p>"],
                         modified=dt.datetime(2026, 3, 1, tzinfo=dt.UTC))
    listed = graph.get(f"/sites/{site.id}/pages/microsoft.graph.sitePage?$expand=canvasLayout").json()["value"]
    assert listed[0]["lastModifiedDateTime"] == "2026-03-01T00:00:00Z"
    parts = listed[0]["canvasLayout"]["horizontalSections"][0]["columns"][0]["webparts"]
    assert [p["innerHtml"] for p in parts] == ["<h2>Hi</h2><p>there</p>", "<p>two</p>"]
    assert "canvasLayout" not in graph.get(f"/sites/{site.id}/pages").json()["value"][0]
    one = graph.get(f"/sites/{site.id}/pages/{page.id}/microsoft.graph.sitePage/webParts").json()["value"]
    assert one[1]["@odata.type"] == "#microsoft.graph.textWebPart"


def test_throttling_and_calls(sp: SharePointStandIn, graph: httpx.Client) -> None:
    site = sp.add_site("/sites/hr")
    sp.throttle(1)
    sp.throttle(1, status=503, retry_after=2)
    r1, r2 = graph.get(f"/sites/{site.id}"), graph.get(f"/sites/{site.id}")
    assert (r1.status_code, r1.headers["Retry-After"], r1.json()["error"]["code"]) == (429, "1", "TooManyRequests")
    assert (r2.status_code, r2.headers["Retry-After"]) == (503, "2")
    assert graph.get(f"/sites/{site.id}").status_code == 200
    assert sp.calls[-3:] == [("GET", f"/v1.0/sites/{site.id}")] * 3


def test_holds_twenty_thousand_files(sp: SharePointStandIn, graph: httpx.Client) -> None:
    lib = sp.add_site("/sites/big").default
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for n in range(20_000):
        lib.add_file(f"d{n % 50}/f{n}.txt", b"x" * 100)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 200_000
    first = graph.get(f"/drives/{lib.id}/root/delta?$top=500").json()
    assert len(first["value"]) == 500 and "@odata.nextLink" in first
    items, _, pages = _delta(graph, first["@odata.nextLink"])
    assert len(items) + 500 == 20_051 and pages == 40  # 41 pages of 500 in all


def test_permission_change_shows_in_delta_without_a_content_change(sp: SharePointStandIn, graph: httpx.Client) -> None:
    lib = sp.add_site("/sites/hr").default
    item = lib.add_file("hello.txt", b"hello world")
    items, link, _ = _delta(graph, f"/drives/{lib.id}/root/delta")
    before = next(i for i in items if i["id"] == item.id)
    assert before["file"]["hashes"]["quickXorHash"] == "aCgDG9jwBhDc4Q1yawMZAAAAAAA="  # the docs' algorithm
    item.break_inheritance(copy=True)
    after = _delta(graph, link)[0]
    assert [a["id"] for a in after] == [item.id]
    assert after[0]["eTag"] != before["eTag"]
    same = ("lastModifiedDateTime", "size")
    assert {k: after[0][k] for k in same} == {k: before[k] for k in same}
    assert after[0]["file"]["hashes"] == before["file"]["hashes"]


def test_rest_checks_signature_tenant_and_grant(entra: EntraStandIn, sp: SharePointStandIn) -> None:
    sp.add_site("/sites/hr")
    url, accept = f"{sp.rest_url}/sites/hr/_api/web", {"Accept": "application/json;odata=nometadata"}
    missing = httpx.get(url, headers=accept)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer realm=")
    forged, _ = EntraStandIn().mint_access_token(TENANT, APP, "https://contoso.sharepoint.com", credential="certificate")
    assert httpx.get(url, headers={**accept, "Authorization": "Bearer " + forged}).status_code == 401
    other_tenant, _ = entra.mint_access_token("other-tenant", APP, "https://contoso.sharepoint.com",
                                              credential="certificate")
    assert httpx.get(url, headers={**accept, "Authorization": "Bearer " + other_tenant}).status_code == 401
    good = {**accept, "Authorization": "Bearer " + _token(entra, SP_SCOPE)}
    denied = httpx.get(url, headers=good)
    assert denied.status_code == 403 and "UnauthorizedAccessException" in denied.json()["odata.error"]["code"]
    sp.grant_app_site(APP, sp.sites["/sites/hr"], "read")
    assert httpx.get(url, headers=good).json()["ServerRelativeUrl"] == "/sites/hr"
