"""The Teams surface as `lore serve` builds it, nothing replaced: app tokens through msal from the
Entra stand-in, who is who from the Graph stand-in, replies to the Bot Connector stand-in. A
guest in a channel, a member of another tenant in a group chat, and a person Graph cannot vouch
for each narrow what an answer may use, never widen it."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.server import STATE_KEY, build_state, create_app
from bot.teams.credentials import AppCredentials
from bot.teams.directory import TeamsDirectory
from bot.teams.surface import TeamsSurface
from core.audit.events import AuditEvent
from tests.bot.conftest import dev_config
from tests.bot.teams.conftest import APP_ID, BOT, TENANT, Teams, activity
from tests.fakes.bot_connector import BotConnectorStandIn
from tests.fakes.bot_tokens import BotTokenIssuer
from tests.fakes.entra import EntraStandIn
from tests.fakes.entra_fixture import entra_fixture, graph_fixture  # noqa: F401
from tests.fakes.graph import GraphStandIn, User

SECRET = "Lore~wired-client-secret-0123456789"
OTHER_TENANT = "22222222-2222-2222-2222-222222222222"
CAROL = "00000000-0000-4000-8000-0000000ca401"  # people lead: may read hr/confidential
ERIN = "00000000-0000-4000-8000-0000000e4101"
GINA = "00000000-0000-4000-8000-00000009114a"  # a guest (B2B, #EXT#)
STRANGER = "00000000-0000-4000-8000-000000005742"  # Graph does not know them
OUTSIDER = "00000000-0000-4000-8000-0000000007e4"  # a member of another tenant
SALARY = "what is the salary band for L5?"
CHANNEL = "19:wired@thread.tacv2"
GUEST_CHANNEL = "19:with-guest@thread.tacv2"
SHARED_CHAT = "19:shared-chat@thread.v2"


class EntraTokens:
    """The Bot Connector stand-in's accepted tokens: any the Entra stand-in issued for the Bot
    Framework audience (checked as Microsoft does: signature, audience, expiry)."""

    def __init__(self, entra: EntraStandIn) -> None:
        self.entra = entra

    def __contains__(self, token: object) -> bool:
        try:
            self.entra.verify_access_token(str(token), "https://api.botframework.com")
        except jwt.InvalidTokenError:
            return False
        return True


def roster_entry(aad: str, email: str, tenant: str = TENANT, role: str = "user") -> dict[str, Any]:
    return {"id": f"29:{aad}", "name": email.split("@")[0], "aadObjectId": aad, "email": email,
            "userPrincipalName": email, "tenantId": tenant, "userRole": role}


class ListSink:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def record(self, event: AuditEvent) -> None:
        self.events.append(event)


@dataclass
class Wired:
    teams: Teams
    entra: EntraStandIn
    audit: ListSink


@pytest.fixture
async def wired(entra: EntraStandIn, graph: GraphStandIn, handbook_data: Path, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Wired]:
    entra.register_app(TENANT, APP_ID, secret=SECRET)
    graph.add_user(TENANT, User(CAROL, "carol@northwind.example", mail="carol@northwind.example"))
    graph.add_user(TENANT, User(ERIN, "erin@northwind.example", mail="erin@northwind.example"))
    graph.add_user(TENANT, User(GINA, "gina_partner.example#EXT#@northwind.onmicrosoft.com",
                                mail="gina@northwind.example", user_type="Guest"))
    async with BotTokenIssuer.running(APP_ID) as issuer, \
            BotConnectorStandIn.running(EntraTokens(entra)) as connector:  # type: ignore[arg-type]
        carol, erin = roster_entry(CAROL, "carol@northwind.example"), roster_entry(ERIN, "erin@northwind.example")
        connector.add_conversation("a:wired-carol", "personal", [carol])
        connector.add_conversation(CHANNEL, "channel", [carol, erin])
        connector.add_conversation(GUEST_CHANNEL, "channel",
                                   [carol, roster_entry(GINA, "gina@northwind.example", role="guest")])
        connector.add_conversation(SHARED_CHAT, "groupChat",
                                   [carol, roster_entry(OUTSIDER, "ola@fabrikam.example", tenant=OTHER_TENANT)])
        shutil.copytree(handbook_data, tmp_path / "data")
        cfg = dev_config(tmp_path / "data")
        cfg.teams.enabled = True
        cfg.teams.app_id = APP_ID
        cfg.teams.tenant_ids = [TENANT]
        cfg.teams.openid_metadata_url = issuer.metadata_url
        cfg.teams.authority_url = entra.base_url
        cfg.teams.graph_url = graph.url
        monkeypatch.setenv("LORE_SECRET_TEAMS_APP_PASSWORD", SECRET)
        sink = ListSink()
        state = build_state(cfg, audit_sink=sink)
        surface = state.surfaces.by_platform["teams"]
        assert isinstance(surface, TeamsSurface)
        # Built as in production: nothing replaced below.
        assert isinstance(surface.directory, TeamsDirectory)
        assert isinstance(surface.connector.tokens, AppCredentials)
        async with TestClient(TestServer(create_app(cfg, state))) as client:
            yield Wired(Teams(client, issuer, connector, surface, surface.connector.tokens), entra, sink)  # type: ignore[arg-type]


def ask(wired: Wired, kind: str, text: str, user: str, conversation: str) -> dict[str, Any]:
    body = activity(wired.teams.service_url, kind, text, user=user, conversation=conversation)
    body["from"] = {"id": f"29:{user}", "name": "someone", "aadObjectId": user}
    body["recipient"] = dict(BOT)
    return body


async def reply_to(wired: Wired, conversation: str, body: dict[str, Any]) -> str:
    assert await wired.teams.post(body) == 200
    replies = await wired.teams.replies(conversation)
    return json.dumps([r for r in replies if r.get("replyToId") in (body["id"], None)] or replies)


async def test_a_direct_question_is_answered_over_the_askers_own_access(wired: Wired) -> None:
    text = await reply_to(wired, "a:wired-carol", ask(wired, "personal", SALARY, CAROL, "a:wired-carol"))
    assert "hr/confidential/salary-bands.md" in text
    assert wired.entra.tokens_for(TENANT)  # the reply went out with an app token msal obtained


async def test_a_channel_of_members_never_gets_the_restricted_page(wired: Wired) -> None:
    body = ask(wired, "channel", SALARY, CAROL, f"{CHANNEL};messageid=900")
    assert await wired.teams.post(body) == 200
    (reply,) = await wired.teams.replies(CHANNEL)
    assert "salary-bands" not in json.dumps(reply) and "Joana Ferreira" not in json.dumps(reply)


async def test_a_guest_in_the_channel_narrows_the_answer_to_what_the_guest_may_read(wired: Wired) -> None:
    # The VPN page is org:members only: cited in a channel of members, not with a guest there.
    members = ask(wired, "channel", "How do I get VPN access?", CAROL, f"{CHANNEL};messageid=902")
    assert await wired.teams.post(members) == 200
    (cited,) = await wired.teams.replies(CHANNEL)
    assert "general/it-vpn-access.md" in json.dumps(cited)
    body = ask(wired, "channel", "How do I get VPN access?", CAROL, f"{GUEST_CHANNEL};messageid=901")
    assert await wired.teams.post(body) == 200
    (reply,) = await wired.teams.replies(GUEST_CHANNEL)
    assert "general/it-vpn-access.md" not in json.dumps(reply)


async def test_a_member_of_another_tenant_in_the_chat_narrows_it_too(wired: Wired) -> None:
    body = ask(wired, "groupChat", "How do I get VPN access?", CAROL, SHARED_CHAT)
    assert await wired.teams.post(body) == 200
    (reply,) = await wired.teams.replies(SHARED_CHAT)
    assert "general/it-vpn-access.md" not in json.dumps(reply)


async def test_someone_graph_cannot_vouch_for_gets_no_documents(wired: Wired) -> None:
    wired.teams.connector.add_conversation("a:wired-stranger", "personal",
                                           [roster_entry(STRANGER, "x@northwind.example")])
    text = await reply_to(wired, "a:wired-stranger",
                          ask(wired, "personal", "How do I get VPN access?", STRANGER, "a:wired-stranger"))
    assert "it-vpn-access" not in text and "couldn't verify who you are" in text


async def test_questions_and_refused_tokens_are_audited(wired: Wired) -> None:
    body = ask(wired, "personal", SALARY, CAROL, "a:wired-carol")
    await reply_to(wired, "a:wired-carol", body)
    forged = ask(wired, "personal", SALARY, CAROL, "a:wired-carol")
    assert await wired.teams.post(forged, token="not.a.jwt") == 401
    state = wired.teams.client.server.app[STATE_KEY]
    await state.audit.drain()
    question = next(e for e in wired.audit.events if e.kind == "question")
    assert (question.actor, question.platform) == ("user:carol@northwind.example", "teams")
    assert question.details["conversation"] == "direct" and question.details["cited"]
    [refused] = [e for e in wired.audit.events if e.kind == "auth_failure"]
    assert refused.platform == "teams" and refused.details["reason"] == "malformed token"
