"""TeamsDirectory through msal, AppCredentials and GraphClient against the Entra and Graph
stand-ins: who a Teams user is, and that every failure fails closed without leaking a secret."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.teams.audience import TeamsMember
from bot.teams.credentials import AppCredentials
from bot.teams.directory import TeamsDirectory
from bot.teams.graph import GraphClient
from core.sections import TeamsConfig
from tests.fakes.entra import GRAPH_RESOURCE, EntraStandIn
from tests.fakes.entra_fixture import entra_fixture, graph_fixture  # noqa: F401
from tests.fakes.graph import ADMIN_UNIT, GROUP, ROLE, DirectoryObject, GraphStandIn, User
from tests.fakes.memory_secrets import MemorySecretStore

TENANT = "aaaaaaaa-1111-4111-8111-111111111111"
OTHER_TENANT = "bbbbbbbb-2222-4222-8222-222222222222"
APP_ID = "cccccccc-3333-4333-8333-333333333333"
SECRET = "Lore~test-client-secret-value-0123456789"

ALICE = "00000000-0000-4000-8000-00000000a11c"
GUEST = "00000000-0000-4000-8000-0000000b0e57"
NOMAIL = "00000000-0000-4000-8000-00000000001a"
B2B_MEMBER = "00000000-0000-4000-8000-000000000b2b"
MANY = "00000000-0000-4000-8000-000000000060"
GROUP_A = "11111111-0000-4000-8000-00000000000a"
GROUP_B = "11111111-0000-4000-8000-00000000000b"


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def people(entra: EntraStandIn, graph: GraphStandIn) -> GraphStandIn:
    entra.register_app(TENANT, APP_ID, secret=SECRET)
    graph.add_user(
        TENANT,
        User(
            ALICE,
            "Alice@Contoso.com",
            mail="Alice.Smith@Contoso.com",
            display_name="Alice Smith",
            member_of=[
                DirectoryObject(GROUP_A),
                DirectoryObject("22222222-0000-4000-8000-000000000001", ROLE),
                DirectoryObject(GROUP_B, GROUP),
                DirectoryObject("33333333-0000-4000-8000-000000000001", ADMIN_UNIT),
            ],
        ),
    )
    graph.add_user(
        TENANT,
        User(
            GUEST,
            "bob_fabrikam.com#EXT#@contoso.onmicrosoft.com",
            mail="bob@fabrikam.com",
            user_type="Guest",
            display_name="Bob (Fabrikam)",
            member_of=[DirectoryObject(GROUP_A)],
        ),
    )
    graph.add_user(TENANT, User(NOMAIL, "Carol@Contoso.com", mail=None, display_name="Carol"))
    graph.add_user(
        TENANT,
        User(
            B2B_MEMBER,
            "dan_partner.com#EXT#@contoso.onmicrosoft.com",
            mail="dan@partner.com",
            user_type="Member",
        ),
    )
    graph.add_user(
        TENANT,
        User(
            MANY,
            "many@contoso.com",
            mail="many@contoso.com",
            member_of=[DirectoryObject(f"44444444-0000-4000-8000-{i:012d}") for i in range(60)]
            + [DirectoryObject(f"55555555-0000-4000-8000-{i:012d}", ROLE) for i in range(5)],
        ),
    )
    return graph


def _config(entra: EntraStandIn, graph: GraphStandIn, **overrides: object) -> TeamsConfig:
    settings: dict[str, object] = {
        "enabled": True,
        "app_id": APP_ID,
        "tenant_ids": [TENANT],
        "authority_url": entra.base_url,
        "graph_url": graph.url,
    }
    settings.update(overrides)
    return TeamsConfig(**settings)  # type: ignore[arg-type]


def _directory(
    entra: EntraStandIn,
    graph: GraphStandIn,
    secret: str = SECRET,
    *,
    sleeps: Sleeps | None = None,
    clock: Clock | None = None,
    **overrides: object,
) -> TeamsDirectory:
    config = _config(entra, graph, **overrides)
    store = MemorySecretStore()
    store.put("teams-app-password", secret)
    client = GraphClient(
        AppCredentials(config, store, timeout=2).token,
        config.graph_url,
        sleep=sleeps or Sleeps(),
        timeout=2,
    )
    return TeamsDirectory(config, client, clock=clock or Clock())


def _no_secrets_in(caplog: pytest.LogCaptureFixture, entra: EntraStandIn) -> None:
    text = caplog.text + "".join(repr(r.__dict__) for r in caplog.records)
    assert SECRET not in text
    for issued in entra.issued:
        assert issued.access_token not in text
        assert issued.access_token.split(".")[1] not in text


async def test_a_member_gets_mail_org_membership_and_only_groups(
    entra: EntraStandIn, people: GraphStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    directory = _directory(entra, people)
    identity = await directory.identity(TENANT, ALICE)
    assert identity is not None
    assert identity.email == "alice.smith@contoso.com"
    assert identity.org_member is True
    assert identity.display_name == "Alice Smith"
    assert identity.groups == tuple(sorted((f"group:aad:{GROUP_A}", f"group:aad:{GROUP_B}")))
    claims = [t.claims for t in entra.issued]
    assert [(c["aud"], c["tid"], c["appid"]) for c in claims] == [(GRAPH_RESOURCE, TENANT, APP_ID)]
    await directory.close()
    _no_secrets_in(caplog, entra)


async def test_a_guest_is_not_an_org_member(entra: EntraStandIn, people: GraphStandIn) -> None:
    directory = _directory(entra, people)
    identity = await directory.identity(TENANT, GUEST)
    assert identity is not None
    assert (identity.email, identity.org_member) == ("bob@fabrikam.com", False)
    assert identity.groups == (f"group:aad:{GROUP_A}",)
    b2b = await directory.identity(TENANT, B2B_MEMBER)  # userType Member but an #EXT# UPN
    assert b2b is not None and b2b.org_member is False
    await directory.close()


async def test_a_user_without_mail_is_named_by_upn(
    entra: EntraStandIn, people: GraphStandIn
) -> None:
    directory = _directory(entra, people)
    identity = await directory.identity(TENANT, NOMAIL)
    assert identity is not None and identity.email == "carol@contoso.com"
    assert identity.org_member is True and identity.groups == ()
    await directory.close()


async def test_other_tenants_get_nothing_without_any_request(
    entra: EntraStandIn, people: GraphStandIn
) -> None:
    directory = _directory(entra, people)
    assert await directory.identity(OTHER_TENANT, ALICE) is None
    assert await directory.identity(TENANT, "not-a-guid") is None
    assert entra.token_requests == 0 and entra.metadata_requests == 0 and people.requests == []
    # a user the activity places in another home tenant is never a full member
    visiting = await directory.identity(TENANT, ALICE, home_tenant_id=OTHER_TENANT)
    assert visiting is not None and visiting.org_member is False
    await directory.close()


async def test_sixty_groups_over_three_pages(entra: EntraStandIn, people: GraphStandIn) -> None:
    directory = _directory(entra, people)
    identity = await directory.identity(TENANT, MANY)
    assert identity is not None and len(identity.groups) == 60
    pages = [r.path_qs for r in people.requests if "transitiveMemberOf" in r.path_qs]
    assert len(pages) == 3
    assert pages[0].endswith("/transitiveMemberOf/microsoft.graph.group?$select=id")
    assert all("$skiptoken=" in p for p in pages[1:])
    assert all(r.authorization and r.authorization.startswith("Bearer ") for r in people.requests)
    await directory.close()


async def test_429_then_success_waits_the_retry_after(
    entra: EntraStandIn, people: GraphStandIn
) -> None:
    sleeps = Sleeps()
    directory = _directory(entra, people, sleeps=sleeps)
    people.throttle(count=1, retry_after=3)
    identity = await directory.identity(TENANT, ALICE)
    assert identity is not None and identity.org_member
    assert len(sleeps.waits) == 1 and sleeps.waits[0] >= 3
    await directory.close()


async def test_a_retry_after_longer_than_allowed_fails_closed(
    entra: EntraStandIn, people: GraphStandIn
) -> None:
    sleeps = Sleeps()
    directory = _directory(entra, people, sleeps=sleeps)
    people.throttle(count=2, retry_after=3600)
    assert await directory.identity(TENANT, ALICE) is None
    assert sleeps.waits == []
    await directory.close()


async def test_graph_down_fails_closed(
    entra: EntraStandIn, people: GraphStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    directory = _directory(entra, people)
    people.fail(503, count=20)
    assert await directory.identity(TENANT, ALICE) is None
    assert "Teams identity lookup failed" in caplog.text and "503" in caplog.text
    await directory.close()
    unreachable = _directory(entra, people, graph_url="http://127.0.0.1:9/v1.0")
    assert await unreachable.identity(TENANT, ALICE) is None
    await unreachable.close()
    _no_secrets_in(caplog, entra)


async def test_graph_forbidden_or_unknown_user_fails_closed(
    entra: EntraStandIn, people: GraphStandIn
) -> None:
    directory = _directory(entra, people)
    assert await directory.identity(TENANT, "00000000-0000-4000-8000-00000000dead") is None
    people.deny(TENANT)
    assert await directory.identity(TENANT, ALICE) is None
    await directory.close()


async def test_token_endpoint_down_fails_closed(
    entra: EntraStandIn, people: GraphStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    entra.fail_token_requests(503)
    directory = _directory(entra, people)
    assert await directory.identity(TENANT, ALICE) is None
    assert people.requests == []
    entra.fail_token_requests(None)
    entra.hang_token_requests()
    assert await _directory(entra, people).identity(TENANT, ALICE) is None  # msal's timeout
    _no_secrets_in(caplog, entra)


async def test_a_bad_client_secret_names_the_secret_not_its_value(
    entra: EntraStandIn, people: GraphStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "Wrong~client-secret-value-9876543210"
    directory = _directory(entra, people, secret=wrong)
    assert await directory.identity(TENANT, ALICE) is None
    assert "'teams-app-password'" in caplog.text and "AADSTS7000215" in caplog.text
    assert TENANT in caplog.text
    assert wrong not in caplog.text and SECRET not in caplog.text
    assert people.requests == []
    await directory.close()


async def test_a_cache_hit_makes_no_request_and_expires(
    entra: EntraStandIn, people: GraphStandIn
) -> None:
    clock = Clock()
    directory = _directory(entra, people, clock=clock, identity_cache_seconds=60.0)
    first = await directory.identity(TENANT, ALICE)
    seen, tokens = len(people.requests), entra.token_requests
    assert await directory.identity(TENANT, ALICE.upper()) == first
    assert (len(people.requests), entra.token_requests) == (seen, tokens)
    clock.now += 61
    assert await directory.identity(TENANT, ALICE) == first
    assert len(people.requests) == 2 * seen
    await directory.close()


async def test_failures_are_not_cached(entra: EntraStandIn, people: GraphStandIn) -> None:
    directory = _directory(entra, people)
    people.fail(500, count=2)
    assert await directory.identity(TENANT, ALICE) is None
    assert await directory.identity(TENANT, ALICE) is not None
    await directory.close()


def _member(object_id: str | None, tenant: str = TENANT, role: str = "user") -> TeamsMember:
    return TeamsMember(
        id=f"29:{object_id}", aad_object_id=object_id, tenant_id=tenant, user_role=role
    )


async def test_identities_of_a_roster(entra: EntraStandIn, people: GraphStandIn) -> None:
    directory = _directory(entra, people)
    found = await directory.identities(TENANT, [_member(ALICE), _member(GUEST, role="guest")])
    assert found is not None and [i.email for i in found] == [
        "alice.smith@contoso.com",
        "bob@fabrikam.com",
    ]
    requests = len(people.requests)
    assert (
        await directory.identities(TENANT, [_member(ALICE), _member(ALICE, OTHER_TENANT)]) is None
    )
    assert (
        await directory.identities(TENANT, [_member(ALICE), _member(None, role="anonymous")])
        is None
    )
    assert (
        await directory.identities(
            TENANT, [_member(ALICE), _member("00000000-0000-4000-8000-00000000dead")]
        )
        is None
    )
    assert len(people.requests) == requests + 2  # only the unknown user was looked up
    # the roster calling Alice a guest wins over Graph calling her a member
    demoted = await directory.identities(TENANT, [_member(ALICE, role="guest")])
    assert demoted is not None and demoted[0].org_member is False
    await directory.close()


async def test_concurrent_turns_of_one_user_share_one_lookup(
    entra: EntraStandIn, people: GraphStandIn
) -> None:
    directory = _directory(entra, people)
    found = await asyncio.gather(*(directory.identity(TENANT, ALICE) for _ in range(20)))
    assert len({f.email for f in found if f is not None}) == 1 and None not in found
    assert len(people.requests) == 2  # one users/{id}, one transitiveMemberOf page
    await directory.close()


async def test_build_from_settings(entra: EntraStandIn, people: GraphStandIn) -> None:
    store = MemorySecretStore()
    store.put("teams-app-password", SECRET)
    directory = TeamsDirectory.build(_config(entra, people), store)
    identity = await directory.identity(TENANT, ALICE)
    assert identity is not None and identity.org_member
    await directory.close()


async def test_audience_of_a_roster(entra: EntraStandIn, people: GraphStandIn) -> None:
    directory = _directory(entra, people)
    internal = await directory.audience(TENANT, [_member(ALICE), _member(NOMAIL)])
    assert internal.includes_outsiders is False and internal.members is None
    with_guest = await directory.audience(TENANT, [_member(ALICE), _member(GUEST, role="guest")])
    assert with_guest.includes_outsiders is True
    assert with_guest.members is not None and [m.email for m in with_guest.members] == [
        "alice.smith@contoso.com", "bob@fabrikam.com"]
    # Graph calls the B2B member a guest though the roster says "user"
    b2b = await directory.audience(TENANT, [_member(ALICE), _member(B2B_MEMBER)])
    assert b2b.includes_outsiders is True and b2b.members is not None
    visitor = await directory.audience(TENANT, [_member(ALICE), _member(ALICE, OTHER_TENANT)])
    assert visitor.includes_outsiders is True and visitor.members is None
    empty = await directory.audience(TENANT, [])
    assert empty.includes_outsiders is True and empty.members is None
    await directory.close()
    people.fail(503, count=20)
    directory = _directory(entra, people)  # a cold cache
    down = await directory.audience(TENANT, [_member(ALICE)])
    assert down.includes_outsiders is True and down.members is None
    await directory.close()
