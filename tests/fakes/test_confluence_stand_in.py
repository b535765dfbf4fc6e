"""The Confluence stand-in driven through the real (synchronous) atlassian-python-api client."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

import aiohttp
import pytest
import requests
from atlassian import Confluence as _Confluence
from atlassian.confluence import ConfluenceServer as _ConfluenceServer
from atlassian.errors import ApiError, ApiNotFoundError

from connectors.confluence.queries import CONTENT_EXPAND
from tests.fakes.confluence_stand_in import ConfluenceStandIn

EMAIL = "lore-bot@northwind.example"
TOKEN = "ATATT-lore-test"
# atlassian-python-api is untyped: treat its clients as Any.
Confluence: Any = _Confluence
ConfluenceServer: Any = _ConfluenceServer


@pytest.fixture
def wiki() -> Iterator[ConfluenceStandIn]:
    with ConfluenceStandIn.serving(
        credentials={EMAIL: TOKEN}, bearer_tokens=frozenset({"PAT"})
    ) as s:
        s.add_user("acc-alice", "alice@northwind.example", display_name="Alice")
        s.add_user("acc-bob", "bob@northwind.example", hidden=True, display_name="Bob")
        s.add_user("acc-carol", "carol@northwind.example")
        s.add_group("hr", members=["acc-alice", "acc-bob", "acc-carol"], group_id="g-hr")
        s.add_space("ENG", "Engineering")
        s.add_space("HR", "People")
        s.set_space_permission("ENG", group="hr")
        s.set_space_permission("ENG", user="acc-alice", operation="administer")
        yield s


def cloud(wiki: ConfluenceStandIn, **kwargs: object) -> Any:  # the library is untyped
    return Confluence(url=wiki.wiki_url, username=EMAIL, password=TOKEN, cloud=True, **kwargs)


def v1(wiki: ConfluenceStandIn, **kwargs: object) -> Any:
    # The Cloud class has no v1 content methods (see the trap tests); the Server class with
    # cloud=True speaks REST v1 under /wiki/rest/api with basic auth.
    return ConfluenceServer(url=wiki.wiki_url, username=EMAIL, password=TOKEN, cloud=True, **kwargs)


def answer(info: pytest.ExceptionInfo[requests.HTTPError]) -> requests.Response:
    assert info.value.response is not None
    return info.value.response


def test_get_page_with_expand_through_the_library(wiki: ConfluenceStandIn) -> None:
    root = wiki.add_page("ENG", "Handbook", "<p>root</p>")
    child = wiki.add_page(
        "ENG",
        "On-call",
        "<p>Page <strong>me</strong></p>",
        parent_id=root.id,
        restrictions={"users": ["acc-alice"], "groups": ["hr"]},
        version=3,
        author="acc-alice",
    )
    expand = (
        "body.storage,version,ancestors,space,history,"
        "restrictions.read.restrictions.user,restrictions.read.restrictions.group"
    )
    page = v1(wiki).get_page_by_id(child.id, expand=expand)
    assert page["body"]["storage"] == {
        "value": "<p>Page <strong>me</strong></p>",
        "representation": "storage",
    }
    assert page["version"]["number"] == 3
    assert [a["id"] for a in page["ancestors"]] == [root.id]
    assert page["space"]["key"] == "ENG"
    assert page["history"]["createdBy"]["accountId"] == "acc-alice"
    read = page["restrictions"]["read"]["restrictions"]
    assert [u["accountId"] for u in read["user"]["results"]] == ["acc-alice"]
    assert {k: read["group"]["results"][0][k] for k in ("id", "name")} == {
        "id": "g-hr",
        "name": "hr",
    }
    assert "_expandable" in page and "body" not in page["_expandable"]
    call = wiki.calls("/wiki/rest/api/content/")[-1]
    assert call.headers["Authorization"].startswith("Basic ")

    wiki.edit_page(child.id, "<p>v4</p>")
    assert v1(wiki).get_page_by_id(child.id, expand="version")["version"]["number"] == 4
    wiki.trash_page(child.id)
    assert v1(wiki).get_page_by_id(child.id)["status"] == "trashed"


def test_draft_purged_and_unknown_pages_are_404(wiki: ConfluenceStandIn) -> None:
    draft = wiki.add_page("ENG", "WIP", "<p>draft</p>", status="draft")
    gone = wiki.add_page("ENG", "Gone", "<p>x</p>")
    wiki.purge_page(gone.id)
    client = cloud(wiki)
    for page_id in (draft.id, gone.id, "999999"):
        with pytest.raises(requests.HTTPError) as info:
            client.get(f"rest/api/content/{page_id}")
        assert answer(info).status_code == 404
        body = answer(info).json()
        assert body["statusCode"] == 404 and body["message"]
    assert client.get(f"rest/api/content/{draft.id}", params={"status": "draft"})["id"] == draft.id


def test_restrictions_by_operation(wiki: ConfluenceStandIn) -> None:
    page = wiki.add_page(
        "HR", "Salaries", "<p>$</p>", restrictions={"users": ["acc-bob"], "groups": ["g-hr"]}
    )
    read = cloud(wiki).get(f"rest/api/content/{page.id}/restriction/byOperation/read")
    assert read["operation"] == "read"
    assert [u["accountId"] for u in read["restrictions"]["user"]["results"]] == ["acc-bob"]
    assert read["restrictions"]["group"]["results"][0]["id"] == "g-hr"
    everything = v1(wiki).get_all_restrictions_for_content(page.id)
    assert everything["read"]["restrictions"]["group"]["results"][0]["name"] == "hr"
    assert everything["update"]["restrictions"]["user"]["size"] == 0


def test_space_with_permissions(wiki: ConfluenceStandIn) -> None:
    space = v1(wiki).get_space("ENG", expand="permissions")
    ops = {(p["operation"]["operation"], next(iter(p["subjects"]))) for p in space["permissions"]}
    assert ops == {("read", "group"), ("administer", "user")}
    with pytest.raises(ApiError):  # the library maps the 404 to its own ApiError
        v1(wiki).get_space("NOPE")


def test_group_members_paging(wiki: ConfluenceStandIn) -> None:
    client = cloud(wiki)
    first = client.get_group_members("g-hr", start=0, limit=2)  # /membersByGroupId
    assert [u["accountId"] for u in first["results"]] == ["acc-alice", "acc-bob"]
    assert first["_links"]["next"].startswith("/rest/api/group/g-hr/membersByGroupId?")
    second = client.get_group_members("g-hr", start=2, limit=2)
    assert [u["accountId"] for u in second["results"]] == ["acc-carol"]
    assert "next" not in second["_links"]
    by_name = v1(wiki).get_group_members("hr", start=1, limit=5)  # deprecated /{name}/member
    assert [u["accountId"] for u in by_name["results"]] == ["acc-bob", "acc-carol"]
    assert wiki.calls("/wiki/rest/api/group/g-hr/membersByGroupId")[0].query == {
        "start": "0",
        "limit": "2",
    }


def test_user_email_hidden_by_profile_visibility(wiki: ConfluenceStandIn) -> None:
    client = v1(wiki)
    assert client.get_user_details_by_accountid("acc-alice")["email"] == "alice@northwind.example"
    bob = client.get_user_details_by_accountid("acc-bob")
    assert bob["email"] == "" and bob["accountId"] == "acc-bob"
    with pytest.raises(ApiNotFoundError):
        client.get_user_details_by_accountid("acc-nobody")


def test_auth_basic_bearer_and_401(wiki: ConfluenceStandIn) -> None:
    page = wiki.add_page("ENG", "P", "<p/>")
    bad = Confluence(url=wiki.wiki_url, username=EMAIL, password="wrong", cloud=True)
    with pytest.raises(requests.HTTPError) as info:
        bad.get(f"rest/api/content/{page.id}")
    assert answer(info).status_code == 401
    assert answer(info).json()["statusCode"] == 401
    pat = ConfluenceServer(url=wiki.wiki_url, token="PAT")  # Data Center personal access token
    assert pat.get_page_by_id(page.id)["title"] == "P"
    assert wiki.calls()[-1].headers["Authorization"] == "Bearer PAT"


def test_429_with_retry_after_is_retried_by_the_library(wiki: ConfluenceStandIn) -> None:
    page = wiki.add_page("ENG", "P", "<p/>")
    wiki.fail_next(f"/wiki/rest/api/content/{page.id}", 429, retry_after="1")
    started = time.monotonic()
    assert v1(wiki).get_page_by_id(page.id)["id"] == page.id
    # atlassian-python-api retries a 429 that carries Retry-After (retry_with_header=True by
    # default) after sleeping for it.
    assert time.monotonic() - started >= 0.9
    assert [c.status for c in wiki.calls(f"/wiki/rest/api/content/{page.id}")] == [429, 200]


def test_429_without_retry_and_500_and_garbage_surface(wiki: ConfluenceStandIn) -> None:
    page = wiki.add_page("ENG", "P", "<p/>")
    path = f"/wiki/rest/api/content/{page.id}"
    client = v1(wiki, retry_with_header=False)
    wiki.fail_next(path, 429, retry_after="30")
    with pytest.raises(requests.HTTPError) as info:
        client.get_page_by_id(page.id)
    assert answer(info).headers["Retry-After"] == "30"
    wiki.fail_next(path, 500)
    with pytest.raises(requests.HTTPError) as info:
        client.get_page_by_id(page.id)
    assert answer(info).status_code == 500
    wiki.fail_next(path, garbage=True)
    # The library does not raise on a non-JSON 200: it logs and hands back the raw text.
    garbage = client.get_page_by_id(page.id)
    assert isinstance(garbage, str) and garbage.startswith("<html>")
    assert client.get_page_by_id(page.id)["id"] == page.id


def test_cql_search_first_page(wiki: ConfluenceStandIn) -> None:
    old = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    new = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    a = wiki.add_page("ENG", "A", "<p>a</p>", modified=new)
    b = wiki.add_page("HR", "B", "<p>b</p>", type="blogpost", modified=old)
    wiki.add_page("HR", "C", "<p>c</p>", modified=datetime(2025, 1, 1, tzinfo=UTC))
    wiki.add_page("ENG", "D", "<p>d</p>", status="draft", modified=new)
    t = wiki.add_page("ENG", "T", "<p>t</p>", modified=new)
    wiki.trash_page(t.id)
    cql = (
        'type in (page, blogpost) AND space in ("ENG","HR") '
        'AND lastmodified >= "2026/01/01 09:00" order by lastmodified asc'
    )
    result = cloud(wiki).get(
        "rest/api/content/search", params={"cql": cql, "limit": 1, "expand": "body.storage,version"}
    )
    assert [r["id"] for r in result["results"]] == [b.id]
    assert result["results"][0]["body"]["storage"]["value"] == "<p>b</p>"
    links = result["_links"]
    assert links["base"] == wiki.wiki_url and links["context"] == "/wiki"
    assert links["next"].startswith("/rest/api/content/search?")
    rest = requests.get(links["base"] + links["next"], auth=(EMAIL, TOKEN), timeout=5).json()
    assert [r["id"] for r in rest["results"]] == [a.id] and "next" not in rest["_links"]
    bad = requests.get(
        wiki.wiki_url + "/rest/api/content/search",
        params={"cql": "text ~ x"},
        auth=(EMAIL, TOKEN),
        timeout=5,
    )
    assert bad.status_code == 400 and bad.json()["message"].startswith("Could not parse cql")


def test_vendor_trap_cloud_cql_builds_a_url_without_rest_api(wiki: ConfluenceStandIn) -> None:
    """atlassian-python-api's Cloud class sends cql()/iter_cql() to /wiki/content/search."""
    wiki.add_page("ENG", "A", "<p>a</p>")
    with pytest.raises(requests.HTTPError) as info:
        cloud(wiki).cql("type = page")
    assert answer(info).status_code == 404
    assert wiki.calls()[-1].path == "/wiki/content/search"


def test_vendor_trap_pager_drops_wiki_from_relative_next_links(wiki: ConfluenceStandIn) -> None:
    """ConfluenceBase._get_paged joins a "/rest/api/..." next link to the site root."""
    for title in "ABC":
        wiki.add_page("ENG", title, "<p/>")
    pager = cloud(wiki)._get_paged(
        "rest/api/content/search", params={"cql": "type = page", "limit": 2}
    )
    assert len([next(pager), next(pager)]) == 2
    with pytest.raises(requests.HTTPError) as info:
        next(pager)
    assert answer(info).status_code == 404
    assert wiki.calls()[-1].path == "/rest/api/content/search"  # /wiki lost


def test_pager_follows_links_that_carry_the_context_path() -> None:
    with ConfluenceStandIn.serving(
        credentials={EMAIL: TOKEN}, next_links_include_context=True
    ) as wiki:
        wiki.add_space("ENG")
        for title in "ABC":
            wiki.add_page("ENG", title, "<p/>")
        pager = cloud(wiki)._get_paged(
            "rest/api/content/search", params={"cql": "type = page", "limit": 2}
        )
        assert [p["title"] for p in pager] == ["A", "B", "C"]
        assert [c.path for c in wiki.calls()] == ["/wiki/rest/api/content/search"] * 2


async def test_async_running_serves_too() -> None:
    async with ConfluenceStandIn.running(credentials={EMAIL: TOKEN}) as wiki:
        wiki.add_space("ENG")
        auth = {"Authorization": aiohttp.BasicAuth(EMAIL, TOKEN).encode()}
        async with aiohttp.ClientSession() as session:
            url = wiki.wiki_url + "/rest/api/space/ENG"
            async with session.get(url, headers=auth) as resp:
                assert (await resp.json())["key"] == "ENG"
            async with session.get(wiki.base_url + "/rest/api/space/ENG", headers=auth) as resp:
                assert resp.status == 404


# ------------------------------------------------------------------ labels, archive, spaces


def raw(wiki: ConfluenceStandIn, path: str, **params: Any) -> requests.Response:
    return requests.get(f"{wiki.wiki_url}/{path}", params=params, auth=(EMAIL, TOKEN), timeout=5)


def test_labels_expand_on_content_and_search(wiki: ConfluenceStandIn) -> None:
    page = wiki.add_page("ENG", "Tagged", "<p/>", labels=["Runbook", "oncall", "runbook"])
    got = v1(wiki).get_page_by_id(page.id, expand="metadata.labels")
    labels = got["metadata"]["labels"]
    assert [(r["prefix"], r["name"], r["label"]) for r in labels["results"]] == [
        ("global", "runbook", "runbook"),
        ("global", "oncall", "oncall"),
    ]
    assert all(r["id"].isdigit() for r in labels["results"])
    assert (labels["start"], labels["limit"], labels["size"]) == (0, 200, 2)
    assert "metadata" not in v1(wiki).get_page_by_id(page.id)  # only when expanded
    assert "metadata" in v1(wiki).get_page_by_id(page.id)["_expandable"]
    wiki.set_labels(page.id, ["archive-me"])
    found = cloud(wiki).get(
        "rest/api/content/search", params={"cql": "type = page", "expand": "metadata.labels"}
    )
    assert [r["name"] for r in found["results"][0]["metadata"]["labels"]["results"]] == [
        "archive-me"
    ]
    with pytest.raises(ValueError):
        wiki.set_labels(page.id, ["two words"])


def test_label_cql(wiki: ConfluenceStandIn) -> None:
    a = wiki.add_page("ENG", "A", "<p/>", labels=["runbook"])
    b = wiki.add_page("ENG", "B", "<p/>", labels=["archive-me", "policy"])
    c = wiki.add_page("ENG", "C", "<p/>")

    def ids(cql: str) -> set[str]:
        answer = raw(wiki, "rest/api/content/search", cql=cql)
        assert answer.status_code == 200, answer.text
        return {r["id"] for r in answer.json()["results"]}

    assert ids('label = "runbook"') == {a.id}
    assert ids('label = "RUNBOOK"') == {a.id}
    assert ids('label in ("runbook", "policy")') == {a.id, b.id}
    assert ids('type = page and label not in ("archive-me")') == {a.id, c.id}
    assert ids('label != "archive-me"') == {a.id, c.id}
    assert ids('space not in ("HR") and label = policy') == {b.id}
    assert raw(wiki, "rest/api/content/search", cql='label > "a"').status_code == 400


def test_archived_pages_are_not_searched_and_need_status(wiki: ConfluenceStandIn) -> None:
    page = wiki.add_page("ENG", "Old", "<p/>")
    keep = wiki.add_page("ENG", "Kept", "<p/>")
    wiki.archive_page(page.id)
    found = raw(wiki, "rest/api/content/search", cql="type = page").json()
    assert [r["id"] for r in found["results"]] == [keep.id]
    assert raw(wiki, f"rest/api/content/{page.id}").status_code == 404
    for status in ("archived", "any"):
        got = raw(wiki, f"rest/api/content/{page.id}", status=status)
        assert got.status_code == 200 and got.json()["status"] == "archived"
    both = requests.get(
        f"{wiki.wiki_url}/rest/api/content/{page.id}?status=current&status=archived",
        auth=(EMAIL, TOKEN),
        timeout=5,
    )
    assert both.status_code == 200


def test_space_list_paging_filters_and_relative_next(wiki: ConfluenceStandIn) -> None:
    wiki.add_space("OPS", "Operations")
    wiki.add_space("~alice", "Alice", type="personal")
    wiki.archive_space("HR")
    client = v1(wiki)
    first = client.get_all_spaces(start=0, limit=2, space_status="current")
    assert [s["key"] for s in first["results"]] == ["ENG", "OPS"]
    assert first["_links"]["next"] == "/rest/api/space?status=current&start=2&limit=2"
    rest = requests.get(
        first["_links"]["base"] + first["_links"]["next"], auth=(EMAIL, TOKEN), timeout=5
    ).json()
    assert [s["key"] for s in rest["results"]] == ["~alice"] and "next" not in rest["_links"]
    archived = client.get_all_spaces(space_status="archived")
    assert [(s["key"], s["status"]) for s in archived["results"]] == [("HR", "archived")]
    personal = client.get_all_spaces(space_type="personal")
    assert [s["key"] for s in personal["results"]] == ["~alice"]
    # spaceKey repeats; the next link keeps every repetition
    picked = requests.get(
        f"{wiki.wiki_url}/rest/api/space?spaceKey=ENG&spaceKey=HR&spaceKey=OPS&limit=1",
        auth=(EMAIL, TOKEN),
        timeout=5,
    ).json()
    assert [s["key"] for s in picked["results"]] == ["ENG"]
    assert picked["_links"]["next"] == (
        "/rest/api/space?spaceKey=ENG&spaceKey=HR&spaceKey=OPS&start=1&limit=1"
    )
    assert raw(wiki, "rest/api/space", status="deleted").status_code == 400
    assert raw(wiki, "rest/api/space", type="team").status_code == 400


def test_archived_space_content_is_not_searched(wiki: ConfluenceStandIn) -> None:
    wiki.add_page("HR", "Policy", "<p/>")
    wiki.archive_space("HR")
    found = raw(wiki, "rest/api/content/search", cql='space = "HR"').json()
    assert found["results"] == []


def test_removed_space_is_404_and_its_pages_purged(wiki: ConfluenceStandIn) -> None:
    page = wiki.add_page("HR", "Policy", "<p/>")
    wiki.remove_space("HR")
    assert raw(wiki, "rest/api/space/HR").status_code == 404
    assert raw(wiki, f"rest/api/content/{page.id}", status="any").status_code == 404
    assert "HR" not in [s["key"] for s in raw(wiki, "rest/api/space").json()["results"]]
    # Cloud: a space that does not exist simply matches nothing
    found = raw(wiki, "rest/api/content/search", cql='space in ("HR", "ENG")')
    assert found.status_code == 200 and found.json()["results"] == []


def test_unknown_space_in_cql_can_be_a_400_like_data_center() -> None:
    with ConfluenceStandIn.serving(
        credentials={EMAIL: TOKEN}, cql_unknown_space_is_error=True
    ) as wiki:
        wiki.add_space("ENG")
        assert raw(wiki, "rest/api/content/search", cql='space = "ENG"').status_code == 200
        bad = raw(wiki, "rest/api/content/search", cql='space in ("ENG", "GONE")')
        assert bad.status_code == 400
        assert bad.json()["message"] == "parameters should not be empty"


def test_anonymous_space_permission_shape(wiki: ConfluenceStandIn) -> None:
    wiki.add_space("PUB", "Public")
    wiki.set_space_permission("PUB", anonymous=True)
    perms = v1(wiki).get_space("PUB", expand="permissions")["permissions"]
    assert len(perms) == 1
    assert perms[0]["anonymousAccess"] is True and perms[0]["unlicensedAccess"] is False
    assert "subjects" not in perms[0]
    assert perms[0]["operation"] == {"operation": "read", "targetType": "space"}
    named = v1(wiki).get_space("ENG", expand="permissions")["permissions"]
    assert all(p["anonymousAccess"] is False and "subjects" in p for p in named)
    with pytest.raises(ValueError):
        wiki.set_space_permission("PUB", group="hr", anonymous=True)


# ------------------------------------------------------------------ attachments


def test_attachments_listing_paging_and_shape(wiki: ConfluenceStandIn) -> None:
    page = wiki.add_page("HR", "Onboarding", "<p/>", author="acc-bob")
    when = datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)
    first = wiki.add_attachment(page.id, "first week.txt", b"hello\n", "text/plain", modified=when)
    wiki.add_attachment(page.id, "logo.png", b"\x89PNG....", "image/png")
    wiki.add_attachment(page.id, "plan.pdf", b"%PDF-1.7", "application/pdf")
    client = v1(wiki)
    listed = client.get_attachments_from_content(page.id, start=0, limit=2, expand="version")
    assert [a["title"] for a in listed["results"]] == ["first week.txt", "logo.png"]
    att = listed["results"][0]
    assert att["id"] == first.id and first.id.startswith("att") and first.id[3:].isdigit()
    assert (att["type"], att["status"]) == ("attachment", "current")
    assert att["extensions"]["mediaType"] == "text/plain"
    assert att["extensions"]["fileSize"] == 6
    assert att["metadata"]["mediaType"] == "text/plain"
    assert att["version"]["number"] == 1 and att["version"]["when"] == "2026-02-03T04:05:06.000Z"
    millis = int(when.timestamp() * 1000)
    assert att["_links"]["download"] == (
        f"/download/attachments/{page.id}/first%20week.txt"
        f"?version=1&modificationDate={millis}&cacheVersion=1&api=v2"
    )
    nxt = listed["_links"]["next"]
    assert nxt == f"/rest/api/content/{page.id}/child/attachment?expand=version&start=2&limit=2"
    rest = requests.get(listed["_links"]["base"] + nxt, auth=(EMAIL, TOKEN), timeout=5).json()
    assert [a["title"] for a in rest["results"]] == ["plan.pdf"] and "next" not in rest["_links"]
    assert "version" in client.get_attachments_from_content(page.id)["results"][0]["_expandable"]
    only_png = client.get_attachments_from_content(page.id, media_type="image/png")
    assert [a["title"] for a in only_png["results"]] == ["logo.png"]
    by_name = client.get_attachments_from_content(page.id, filename="plan.pdf")
    assert [a["title"] for a in by_name["results"]] == ["plan.pdf"]


def test_attachment_download_needs_auth_and_serves_bytes(wiki: ConfluenceStandIn) -> None:
    page = wiki.add_page("HR", "Onboarding", "<p/>")
    att = wiki.add_attachment(page.id, "first week.txt", b"Day 1: laptop\n", "text/plain")
    link = v1(wiki).get_attachments_from_content(page.id)["results"][0]["_links"]["download"]
    url = wiki.wiki_url + link  # relative to the wiki base, i.e. below /wiki
    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, auth=(EMAIL, "wrong"), timeout=5).status_code == 401
    got = requests.get(url, auth=(EMAIL, TOKEN), timeout=5)
    assert got.status_code == 200 and got.content == b"Day 1: laptop\n"
    assert got.headers["Content-Type"].startswith("text/plain")
    assert got.headers["Content-Length"] == str(len(b"Day 1: laptop\n"))
    # joined to the site root instead of the wiki base, the link 404s
    assert requests.get(wiki.base_url + link, auth=(EMAIL, TOKEN), timeout=5).status_code == 404
    assert raw(wiki, f"download/attachments/{page.id}/nope.txt").status_code == 404
    # the Cloud REST download route redirects to the same bytes
    via_rest = raw(wiki, f"rest/api/content/{page.id}/child/attachment/{att.id}/download")
    assert via_rest.status_code == 200 and via_rest.content == b"Day 1: laptop\n"
    assert via_rest.history[0].status_code == 302
    wiki.remove_attachment(att.id)
    assert requests.get(url, auth=(EMAIL, TOKEN), timeout=5).status_code == 404
    assert v1(wiki).get_attachments_from_content(page.id)["results"] == []


def test_attachments_of_trashed_and_purged_pages(wiki: ConfluenceStandIn) -> None:
    trashed = wiki.add_page("HR", "Trashed", "<p/>")
    purged = wiki.add_page("HR", "Purged", "<p/>")
    wiki.add_attachment(trashed.id, "a.txt", b"a", "text/plain")
    wiki.add_attachment(purged.id, "b.txt", b"b", "text/plain")
    wiki.trash_page(trashed.id)
    wiki.purge_page(purged.id)
    assert v1(wiki).get_attachments_from_content(trashed.id)["results"] == []
    assert raw(wiki, f"download/attachments/{trashed.id}/a.txt").status_code == 404
    assert raw(wiki, f"rest/api/content/{purged.id}/child/attachment").status_code == 404
    with pytest.raises(ApiError):
        v1(wiki).get_attachments_from_content(purged.id)
    assert raw(wiki, f"download/attachments/{purged.id}/b.txt").status_code == 404


# ------------------------------------------------------------------ CQL time zone, limits


def test_cql_dates_are_in_the_users_time_zone() -> None:
    with ConfluenceStandIn.serving(
        credentials={EMAIL: TOKEN}, cql_timezone="Europe/Berlin"
    ) as wiki:
        wiki.add_space("ENG")
        # 10:30 UTC in January is 11:30 in Berlin (CET, UTC+1)
        page = wiki.add_page(
            "ENG", "P", "<p/>", modified=datetime(2026, 1, 15, 10, 30, 42, tzinfo=UTC)
        )

        def ids(cql: str) -> list[str]:
            return [
                r["id"] for r in raw(wiki, "rest/api/content/search", cql=cql).json()["results"]
            ]

        assert ids('lastmodified >= "2026/01/15 11:25"') == [page.id]
        assert ids('lastmodified >= "2026/01/15 11:35"') == []
        assert ids('lastmodified = "2026/01/15 11:30"') == [page.id]  # minute granularity
        assert ids('lastmodified >= "2026/01/15 10:35"') == [page.id]  # not UTC
        got = raw(wiki, "rest/api/content/search", cql="type = page", expand="version").json()
        assert got["results"][0]["version"]["when"] == "2026-01-15T10:30:42.000Z"
    with pytest.raises(ZoneInfoNotFoundError):
        ConfluenceStandIn(cql_timezone="Mars/Olympus_Mons")


def test_search_limit_is_capped_lower_for_body_expansions(wiki: ConfluenceStandIn) -> None:
    for n in range(60):
        wiki.add_page("ENG", f"P{n}", "<p/>")

    def limit(**params: Any) -> tuple[int, int, str]:
        got = raw(wiki, "rest/api/content/search", cql="type = page", limit=100, **params).json()
        return got["limit"], got["size"], got["_links"].get("next", "")

    assert limit() == (100, 60, "")
    assert limit(expand="version,space")[:2] == (100, 60)
    assert limit(expand="body.storage")[:2] == (50, 50)
    assert "limit=50" in limit(expand="body.storage")[2]
    assert limit(expand="version,body.view")[:2] == (50, 50)
    assert limit(expand="body.export_view")[:2] == (25, 25)


# ------------------------------------------------------------------ draft ancestors


def test_draft_ancestor_in_search_and_its_restrictions_404(wiki: ConfluenceStandIn) -> None:
    draft = wiki.add_page("ENG", "Unpublished parent", "<p/>", status="draft")
    child = wiki.add_page("ENG", "Published child", "<p/>", parent_id=draft.id)
    found = cloud(wiki).get(
        "rest/api/content/search", params={"cql": "type = page", "expand": "ancestors"}
    )
    assert [r["id"] for r in found["results"]] == [child.id]
    assert found["results"][0]["ancestors"] == [
        {"id": draft.id, "type": "page", "status": "draft", "title": "Unpublished parent"}
    ]
    with pytest.raises(requests.HTTPError) as info:
        cloud(wiki).get(f"rest/api/content/{draft.id}/restriction/byOperation/read")
    assert answer(info).status_code == 404


# ------------------------------------------------------------------ demo


def test_seed_demo_builds_the_documented_site() -> None:
    from tests.fakes.confluence_demo import EMAIL as DEMO_EMAIL
    from tests.fakes.confluence_demo import TOKEN as DEMO_TOKEN
    from tests.fakes.confluence_demo import seed_demo

    with ConfluenceStandIn.serving() as wiki:
        seed_demo(wiki)
        client = ConfluenceServer(
            url=wiki.wiki_url, username=DEMO_EMAIL, password=DEMO_TOKEN, cloud=True
        )
        spaces = client.get_all_spaces(expand="permissions")["results"]
        assert [s["key"] for s in spaces] == ["ENG", "HR", "PUB"]
        pub = next(s for s in spaces if s["key"] == "PUB")
        assert pub["permissions"][0]["anonymousAccess"] is True
        carol = client.get_user_details_by_accountid("carol-account")
        assert carol["email"] == ""
        eng = client.get("rest/api/content/search", params={"cql": 'space = "ENG"', "limit": 50})
        titles = {r["title"] for r in eng["results"]}
        assert "Platform update: January" in titles and len(titles) == 6
        restricted = next(p for p in wiki.pages.values() if p.read_users == ["alice-account"])
        assert any(p.parent_id == restricted.id for p in wiki.pages.values())
        tagged = client.get("rest/api/content/search", params={"cql": 'label = "archive-me"'})
        assert [r["title"] for r in tagged["results"]] == ["Legacy Deploy Process"]
        hr = client.get("rest/api/content/search", params={"cql": 'space = "HR"'})["results"]
        with_file = next(r for r in hr if r["title"] == "Onboarding Checklist")
        files = client.get_attachments_from_content(with_file["id"])["results"]
        assert [f["title"] for f in files] == ["first-week.txt"]


def test_demo_runs_in_the_foreground_until_sigterm() -> None:
    import signal
    import socket
    import subprocess
    import sys
    from pathlib import Path

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.confluence_demo", "--port", str(port)],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.strip() == f"Confluence stand-in: http://127.0.0.1:{port}/wiki"
        assert "lore-bot@example.com" in proc.stdout.readline()
        got = requests.get(
            f"http://127.0.0.1:{port}/wiki/rest/api/space/ENG",
            auth=("lore-bot@example.com", "demo-token"),
            timeout=5,
        )
        assert got.json()["key"] == "ENG"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_version_by_is_the_last_editor_with_the_expand_the_connector_sends(wiki: ConfluenceStandIn) -> None:
    """The connector's search (CONTENT_EXPAND) gets ``version.by`` (the last edit's user) and
    ``history.createdBy`` (the creator), as Confluence answers."""
    page = wiki.add_page("ENG", "Deploys", "<p>ship it</p>", author="acc-alice")
    found = raw(wiki, "rest/api/content/search", cql="type = page", expand=CONTENT_EXPAND).json()
    [item] = found["results"]
    assert item["version"]["by"]["displayName"] == "Alice"  # not edited yet: the creator
    assert item["history"]["createdBy"]["displayName"] == "Alice"
    wiki.edit_page(page.id, "<p>ship it on Tuesdays</p>", by="acc-bob")
    wiki.edit_page(page.id, "<p>ship it on Tuesdays only</p>")  # again, by the same editor
    [item] = raw(wiki, "rest/api/content/search", cql="type = page", expand=CONTENT_EXPAND).json()["results"]
    assert (item["version"]["number"], item["version"]["by"]["accountId"]) == (3, "acc-bob")
    assert item["version"]["by"]["displayName"] == "Bob"
    assert item["history"]["createdBy"]["accountId"] == "acc-alice"
    assert "by" not in raw(wiki, f"rest/api/content/{page.id}").json().get("version", {})  # only expanded
