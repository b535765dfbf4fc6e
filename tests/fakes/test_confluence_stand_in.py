"""The Confluence stand-in driven through the real (synchronous) atlassian-python-api client."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
import requests
from atlassian import Confluence as _Confluence
from atlassian.confluence import ConfluenceServer as _ConfluenceServer
from atlassian.errors import ApiError, ApiNotFoundError

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
