"""The Graph stand-in is as strict as Graph's documentation about tokens, errors and paging."""

from __future__ import annotations

from typing import Any

import aiohttp
import msal

from tests.fakes.entra import BOT_FRAMEWORK_RESOURCE, GRAPH_RESOURCE, EntraStandIn
from tests.fakes.entra_fixture import entra_fixture, graph_fixture  # noqa: F401
from tests.fakes.graph import ADMIN_UNIT, GROUP, ROLE, DirectoryObject, GraphStandIn, User

TENANT = "aaaaaaaa-1111-4111-8111-111111111111"
OTHER = "bbbbbbbb-2222-4222-8222-222222222222"
APP = "cccccccc-3333-4333-8333-333333333333"
USER = "00000000-0000-4000-8000-00000000a11c"


def _token(entra: EntraStandIn, tenant: str = TENANT, resource: str = GRAPH_RESOURCE) -> str:
    entra.register_app(tenant, APP, secret="s3cret-value")
    app = msal.ConfidentialClientApplication(
        APP, client_credential="s3cret-value", authority=entra.authority(tenant), instance_discovery=False
    )
    token: str = app.acquire_token_for_client([f"{resource}/.default"])["access_token"]
    return token


async def _get(url: str, token: str | None) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
        body: dict[str, Any] = await response.json()
        return response.status, body


def _seed(graph: GraphStandIn) -> None:
    graph.add_user(TENANT, User(USER, "alice@contoso.com", mail=None, member_of=[
        DirectoryObject("g1"), DirectoryObject("r1", ROLE), DirectoryObject("u1", ADMIN_UNIT),
        *[DirectoryObject(f"g{i}", GROUP) for i in range(2, 30)],
    ]))


async def test_tokens_are_checked(entra: EntraStandIn, graph: GraphStandIn) -> None:
    _seed(graph)
    url = f"{graph.url}/users/{USER}"
    status, body = await _get(url, None)
    assert status == 401 and body["error"]["code"] == "InvalidAuthenticationToken"
    assert set(body["error"]) == {"code", "message", "innerError"}
    assert {"date", "request-id", "client-request-id"} <= set(body["error"]["innerError"])
    status, _ = await _get(url, "not.a.jwt")
    assert status == 401
    status, _ = await _get(url, _token(entra, resource=BOT_FRAMEWORK_RESOURCE))  # wrong audience
    assert status == 401
    forged = _token(entra).rsplit(".", 1)[0] + ".c2lnbmF0dXJl"
    status, _ = await _get(url, forged)
    assert status == 401
    status, body = await _get(url, _token(entra))
    assert status == 200 and body["id"] == USER


async def test_the_tenant_is_the_tokens(entra: EntraStandIn, graph: GraphStandIn) -> None:
    _seed(graph)
    status, body = await _get(f"{graph.url}/users/{USER}", _token(entra, tenant=OTHER))
    assert status == 404 and body["error"]["code"] == "Request_ResourceNotFound"


async def test_select_and_default_properties(entra: EntraStandIn, graph: GraphStandIn) -> None:
    _seed(graph)
    token = _token(entra)
    _, default = await _get(f"{graph.url}/users/{USER}", token)
    assert "userType" not in default and default["mail"] is None and "userPrincipalName" in default
    _, chosen = await _get(f"{graph.url}/users/{USER}?$select=id,userType", token)
    assert set(chosen) == {"@odata.context", "id", "userType"}
    status, body = await _get(f"{graph.url}/users/{USER}?$select=id,shoeSize", token)
    assert status == 400 and body["error"]["code"] == "Request_BadRequest"


async def test_transitive_member_of_pages_and_the_group_cast(entra: EntraStandIn, graph: GraphStandIn) -> None:
    _seed(graph)
    token = _token(entra)
    status, page = await _get(f"{graph.url}/users/{USER}/transitiveMemberOf", token)
    kinds = {item["@odata.type"] for item in page["value"]}
    assert status == 200 and kinds == {GROUP, ROLE, ADMIN_UNIT} and len(page["value"]) == 25
    ids: list[str] = []
    url: str | None = f"{graph.url}/users/{USER}/transitiveMemberOf/microsoft.graph.group?$select=id"
    while url:
        _, page = await _get(url, token)
        assert all(item["@odata.type"] == GROUP for item in page["value"])
        ids += [item["id"] for item in page["value"]]
        url = page.get("@odata.nextLink")
        assert url is None or (url.startswith(graph.url) and "$select=id" in url)
    assert len(ids) == 29
    status, _ = await _get(f"{graph.url}/users/{USER}/transitiveMemberOf?$skiptoken=made-up", token)
    assert status == 400


async def test_throttling_and_failures(entra: EntraStandIn, graph: GraphStandIn) -> None:
    _seed(graph)
    token = _token(entra)
    graph.throttle(retry_after=7)
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as session, session.get(f"{graph.url}/users/{USER}", headers=headers) as r:
        assert r.status == 429 and r.headers["Retry-After"] == "7"
        assert (await r.json())["error"]["code"] == "TooManyRequests"
    graph.fail(503, retry_after=2)
    status, body = await _get(f"{graph.url}/users/{USER}", token)
    assert status == 503 and body["error"]["code"] == "serviceNotAvailable"
    graph.deny(TENANT)
    status, body = await _get(f"{graph.url}/users/{USER}", token)
    assert status == 403 and body["error"]["code"] == "Authorization_RequestDenied"
