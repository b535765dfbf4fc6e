"""AppCredentials and GraphClient on their own: certificates, settings mistakes, and Graph
answers that must not be believed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

from bot.teams.credentials import AppCredentials, TeamsAuthError
from bot.teams.graph import GRAPH_SCOPE, GraphClient, GraphError
from core.sections import TeamsConfig
from tests.fakes.entra import BOT_FRAMEWORK_RESOURCE, EntraStandIn, make_certificate
from tests.fakes.entra_fixture import entra_fixture  # noqa: F401
from tests.fakes.loopback import serving
from tests.fakes.memory_secrets import MemorySecretStore

TENANT = "aaaaaaaa-1111-4111-8111-111111111111"
SECOND = "dddddddd-4444-4444-8444-444444444444"
APP = "cccccccc-3333-4333-8333-333333333333"
BOT_SCOPE = f"{BOT_FRAMEWORK_RESOURCE}/.default"


def _credentials(entra: EntraStandIn, store: MemorySecretStore, **overrides: Any) -> AppCredentials:
    settings: dict[str, Any] = {"app_id": APP, "tenant_ids": [TENANT, SECOND],
                                "authority_url": entra.base_url}
    settings.update(overrides)
    return AppCredentials(TeamsConfig(**settings), store, timeout=2)


async def test_a_certificate_from_the_secret_store(entra: EntraStandIn) -> None:
    key, cert = make_certificate()
    entra.register_app(TENANT, APP, certificate_pem=cert)
    store = MemorySecretStore()
    store.put("teams-cert", cert + key)  # one PEM: the certificate and its private key
    credentials = _credentials(entra, store, certificate_secret="teams-cert")
    token = await credentials.token(TENANT, BOT_SCOPE)
    assert entra.verify_access_token(token, BOT_FRAMEWORK_RESOURCE)["appid"] == APP
    assert entra.issued[0].credential == "certificate"
    store.put("teams-cert", cert)
    with pytest.raises(TeamsAuthError, match="'teams-cert'.*0 key"):
        await _credentials(entra, store, certificate_secret="teams-cert").token(TENANT, BOT_SCOPE)


async def test_one_msal_app_and_cache_per_tenant(entra: EntraStandIn) -> None:
    entra.register_app(TENANT, APP, secret="secret-value-1")
    entra.register_app(SECOND, APP, secret="secret-value-1")
    store = MemorySecretStore()
    store.put("teams-app-password", "secret-value-1")
    credentials = _credentials(entra, store)
    first = await credentials.token(TENANT, GRAPH_SCOPE)
    assert await credentials.token(TENANT, GRAPH_SCOPE) == first
    second = await credentials.token(SECOND.upper(), GRAPH_SCOPE)
    assert entra.verify_access_token(second, "https://graph.microsoft.com")["tid"] == SECOND
    assert entra.token_requests == 2


async def test_settings_mistakes_are_named(entra: EntraStandIn) -> None:
    store = MemorySecretStore()
    with pytest.raises(TeamsAuthError, match="not one of teams.tenant_ids"):
        await _credentials(entra, store).token("eeeeeeee-5555-4555-8555-555555555555", GRAPH_SCOPE)
    with pytest.raises(TeamsAuthError, match="teams.app_id"):
        await _credentials(entra, store, app_id="").token(TENANT, GRAPH_SCOPE)
    assert entra.metadata_requests == 0
    with pytest.raises(TeamsAuthError, match="'teams-app-password'.*not set"):
        await _credentials(entra, store).token(TENANT, GRAPH_SCOPE)
    store.put("teams-app-password", "secret-value-2")
    with pytest.raises(TeamsAuthError, match=f"no OpenID configuration for tenant {TENANT}"):
        await _credentials(entra, store).token(TENANT, GRAPH_SCOPE)  # tenant unknown to Entra


async def test_a_refusal_names_tenant_secret_and_code_but_no_value(entra: EntraStandIn) -> None:
    entra.register_app(TENANT, APP, secret="the-right-secret-value")
    store = MemorySecretStore()
    store.put("teams-app-password", "a-wrong-secret-value")
    with pytest.raises(TeamsAuthError) as caught:
        await _credentials(entra, store).token(TENANT, GRAPH_SCOPE)
    message = str(caught.value)
    assert TENANT in message and "'teams-app-password'" in message and "AADSTS7000215" in message
    assert "a-wrong-secret-value" not in message and "the-right-secret-value" not in message
    assert caught.value.__cause__ is None


Handler = Callable[[web.Request], Any]


@pytest.fixture
async def graph_app() -> AsyncIterator[Callable[[Handler], Any]]:
    """Serve one handler for every GET; yields a function returning the Graph base URL."""
    handlers: list[Handler] = []

    async def dispatch(request: web.Request) -> web.StreamResponse:
        result: web.StreamResponse = await handlers[0](request)
        return result

    app = web.Application()
    app.router.add_get("/{tail:.*}", dispatch)
    async with serving(app) as port:
        def use(handler: Handler) -> str:
            handlers[:] = [handler]
            return f"http://127.0.0.1:{port}/v1.0"

        yield use


async def _token(tenant: str, scope: str) -> str:
    return "header.payload.signature"


def _client(url: str) -> GraphClient:
    async def no_sleep(_: float) -> None:
        return None

    return GraphClient(_token, url, timeout=1, max_pages=3, sleep=no_sleep)


@pytest.mark.parametrize("answer", [
    web.Response(text="<html>proxy error</html>", content_type="text/html"),
    web.Response(text="{not json", content_type="application/json"),
    web.json_response(["a", "list"]),
    web.json_response({"value": "not a list"}),
    web.json_response({"value": [{"displayName": "no id"}]}),
    web.json_response({"value": [], "@odata.nextLink": 42}),
], ids=["html", "bad json", "list", "value not list", "no id", "link not text"])
async def test_garbage_is_a_graph_error(graph_app: Callable[[Handler], str], answer: web.Response) -> None:
    async def handler(request: web.Request) -> web.Response:
        return answer

    client = _client(graph_app(handler))
    with pytest.raises(GraphError):
        await client.group_ids(TENANT, "u")
    await client.close()


async def test_next_links_stay_on_the_graph_url_and_are_bounded(graph_app: Callable[[Handler], str]) -> None:
    pages = {"n": 0}

    async def elsewhere(request: web.Request) -> web.Response:
        return web.json_response({"value": [], "@odata.nextLink": "http://evil.example/v1.0/x"})

    client = _client(graph_app(elsewhere))
    with pytest.raises(GraphError, match="leaves the configured Graph URL"):
        await client.group_ids(TENANT, "u")

    async def endless(request: web.Request) -> web.Response:
        pages["n"] += 1
        link = f"http://{request.host}/v1.0/users/u/transitiveMemberOf?$skiptoken={pages['n']}"
        return web.json_response({"value": [{"id": f"g{pages['n']}"}], "@odata.nextLink": link})

    graph_app(endless)
    with pytest.raises(GraphError, match="more than 3 pages"):
        await client.group_ids(TENANT, "u")
    await client.close()


async def test_user_fields_are_checked(graph_app: Callable[[Handler], str]) -> None:
    async def no_upn(request: web.Request) -> web.Response:
        return web.json_response({"id": "u", "mail": "a@b.c"})

    client = _client(graph_app(no_upn))
    with pytest.raises(GraphError, match="userPrincipalName"):
        await client.user(TENANT, "u")

    async def odd_mail(request: web.Request) -> web.Response:
        return web.json_response({"id": "u", "userPrincipalName": "a@b.c", "mail": ["x"]})

    graph_app(odd_mail)
    with pytest.raises(GraphError, match="not text"):
        await client.user(TENANT, "u")
    await client.close()


async def test_a_slow_graph_times_out(graph_app: Callable[[Handler], str]) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({})

    client = _client(graph_app(slow))  # timeout=1
    with pytest.raises(GraphError, match="timed out"):
        await client.user(TENANT, "u")
    await client.close()


async def test_retry_after_on_503_is_honoured_and_bounded(graph_app: Callable[[Handler], str]) -> None:
    calls = {"n": 0}
    waits: list[float] = []

    async def busy(request: web.Request) -> web.Response:
        calls["n"] += 1
        return web.json_response({"error": {"code": "serviceNotAvailable", "message": "busy"}},
                                 status=503, headers={"Retry-After": "2"})

    async def record(seconds: float) -> None:
        waits.append(seconds)

    client = GraphClient(_token, graph_app(busy), attempts=3, sleep=record)
    with pytest.raises(GraphError, match="503 serviceNotAvailable"):
        await client.user(TENANT, "u")
    assert calls["n"] == 3 and len(waits) == 2 and min(waits) >= 2
    await client.close()


async def test_an_unreadable_or_encrypted_key_is_named(entra: EntraStandIn) -> None:
    from cryptography.hazmat.primitives import serialization

    key, cert = make_certificate()
    loaded = serialization.load_pem_private_key(key.encode(), password=None)
    encrypted = loaded.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    ).decode()
    store = MemorySecretStore()
    lines = key.splitlines()
    garbled = "\n".join([lines[0], "bm90IGEga2V5", lines[-1]])  # base64 of "not a key"
    for value in (cert + encrypted, cert + garbled):
        store.put("teams-cert", value)
        with pytest.raises(TeamsAuthError, match="'teams-cert'.*cannot be read"):
            await _credentials(entra, store, certificate_secret="teams-cert").token(TENANT, BOT_SCOPE)
    assert entra.metadata_requests == 0


async def test_a_rotated_secret_is_read_again_after_a_refusal(entra: EntraStandIn) -> None:
    entra.register_app(TENANT, APP, secret="old-secret-value")
    store = MemorySecretStore()
    store.put("teams-app-password", "old-secret-value")
    credentials = _credentials(entra, store)
    await credentials.token(TENANT, GRAPH_SCOPE)
    entra.register_app(TENANT, APP, secret="new-secret-value")  # rotated in Entra ...
    store.put("teams-app-password", "new-secret-value")  # ... and in the secret store
    with pytest.raises(TeamsAuthError, match="AADSTS7000215"):
        await credentials.token(TENANT, BOT_SCOPE)  # the old app still sends the old secret
    token = await credentials.token(TENANT, BOT_SCOPE)
    assert entra.verify_access_token(token, BOT_FRAMEWORK_RESOURCE)["tid"] == TENANT


async def test_a_multi_tenant_bot_gets_its_connector_token_from_botframework_com(
    entra: EntraStandIn,
) -> None:
    entra.register_app("botframework.com", APP, secret="bot-secret-value")
    store = MemorySecretStore()
    store.put("teams-app-password", "bot-secret-value")
    credentials = _credentials(entra, store)
    token = await credentials.token("botframework.com", BOT_SCOPE)
    assert entra.verify_access_token(token, BOT_FRAMEWORK_RESOURCE)["tid"] == "botframework.com"
    with pytest.raises(TeamsAuthError, match="not one of teams.tenant_ids"):
        await credentials.token("botframework.com", GRAPH_SCOPE)  # no users there to look up


async def test_a_large_page_is_read_whole_and_an_endless_one_refused(
    graph_app: Callable[[Handler], str],
) -> None:
    groups = [{"@odata.type": "#microsoft.graph.group", "id": f"{i:036d}"} for i in range(999)]

    async def full_page(request: web.Request) -> web.Response:
        return web.json_response({"value": groups})  # ~70 kB: several chunks

    client = _client(graph_app(full_page))
    assert len(await client.group_ids(TENANT, "u")) == 999

    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        for _ in range(80):
            await response.write(b" " * 65536)
        return response

    graph_app(huge)
    with pytest.raises(GraphError, match="larger than"):
        await client.group_ids(TENANT, "u")
    await client.close()
