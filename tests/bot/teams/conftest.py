"""Shared setup of the Teams tests: the real server, its token checks pointed at the token-issuer
stand-in, its replies at the Bot Connector stand-in, and a fixed directory of who is who."""

from __future__ import annotations

import asyncio
import itertools
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.server import build_state, create_app
from bot.teams.surface import TeamsSurface
from bot.turn import Audience, Identity
from core.audit.events import AuditSink
from core.config import Config
from tests.bot.conftest import dev_config
from tests.fakes.bot_connector import BotConnectorStandIn
from tests.fakes.bot_tokens import BotTokenIssuer

APP_ID = "00000000-0000-0000-0000-00000000b0b0"
TENANT = "11111111-1111-1111-1111-111111111111"
OTHER_TENANT = "22222222-2222-2222-2222-222222222222"
APP_TOKEN = "app-token-for-bot-connector"
BOT = {"id": f"28:{APP_ID}", "name": "Lore"}
PEOPLE = {  # aadObjectId -> (Teams user id, email, full member)
    "aad-carol": ("29:carol", "carol@northwind.example", True),
    "aad-erin": ("29:erin", "erin@northwind.example", True),
    "aad-gina": ("29:gina", "gina@northwind.example", False),
}
CHANNEL = "19:general@thread.tacv2"
GROUP = "19:group-chat@thread.v2"
PERSONAL = "a:personal-carol"
_ids = itertools.count(1000)


class AppTokens:
    """Stands in for the app credentials (the msal client-credentials flow is the other branch's)."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    async def token(self, tenant_id: str, scope: str) -> str:
        self.asked.append((tenant_id, scope))
        return APP_TOKEN


class Directory:
    async def close(self) -> None:
        return None

    async def identity(self, tenant_id: str, aad_object_id: str) -> Identity | None:
        person = PEOPLE.get(aad_object_id)
        if tenant_id != TENANT or person is None:
            return None
        return Identity(email=person[1], org_member=person[2])


class RosterPolicy:
    """The audience policy of the design (full members of the served tenant only -> org
    audience; anyone else -> outsiders) over the fixed directory."""

    async def audience(self, tenant_id: str, members: list[dict[str, Any]]) -> Audience:
        outsiders = [m for m in members if m.get("tenantId") != tenant_id or m.get("userRole") == "guest"
                     or not PEOPLE.get(str(m.get("aadObjectId")), ("", "", False))[2]]
        return Audience(includes_outsiders=bool(outsiders))


def member(aad: str, tenant: str = TENANT, role: str = "user") -> dict[str, Any]:
    user_id, email, _ = PEOPLE[aad]
    return {"id": user_id, "name": email.split("@")[0].title(), "aadObjectId": aad, "email": email,
            "userPrincipalName": email, "tenantId": tenant, "userRole": role}


def activity(service_url: str, conversation_type: str, text: str, *, user: str = "aad-carol",
             conversation: str | None = None, mention: bool = True, tenant: str = TENANT,
             activity_id: str | None = None, **extra: Any) -> dict[str, Any]:
    """A message activity as Teams sends it (personal, groupChat or channel)."""
    activity_id = activity_id or str(next(_ids))
    conv_id = conversation or {"personal": PERSONAL, "groupChat": GROUP, "channel": f"{CHANNEL};messageid={activity_id}"}[conversation_type]
    user_id = PEOPLE[user][0] if user in PEOPLE else f"29:{user}"
    entities: list[dict[str, Any]] = []
    if mention and conversation_type != "personal":
        text = f"<at>Lore</at> {text}"
        entities.append({"type": "mention", "text": "<at>Lore</at>", "mentioned": dict(BOT)})
    body: dict[str, Any] = {
        "type": "message", "id": activity_id, "timestamp": "2026-12-04T10:00:00.000Z",
        "serviceUrl": service_url, "channelId": "msteams",
        "from": {"id": user_id, "name": user, "aadObjectId": user},
        "conversation": {"id": conv_id, "conversationType": conversation_type, "tenantId": tenant,
                         **({"isGroup": True} if conversation_type != "personal" else {})},
        "recipient": dict(BOT), "text": text, "textFormat": "plain", "locale": "en-US",
        "entities": entities, "channelData": {"tenant": {"id": tenant}},
    }
    body.update(extra)
    return body


@dataclass
class Teams:
    client: TestClient
    issuer: BotTokenIssuer
    connector: BotConnectorStandIn
    surface: TeamsSurface
    tokens: AppTokens
    posted: list[int] = field(default_factory=list)

    @property
    def service_url(self) -> str:
        return self.connector.base_url

    async def post(self, body: dict[str, Any], token: str | None = None) -> int:
        token = token if token is not None else self.issuer.token(body["serviceUrl"])
        r = await self.client.post("/api/messages", json=body, headers={"Authorization": f"Bearer {token}"})
        return r.status

    async def replies(self, conversation: str, count: int = 1, timeout: float = 20) -> list[dict[str, Any]]:
        """The bot's messages in ``conversation`` once ``count`` arrived (and stray ones had time)."""
        for _ in range(int(timeout * 20)):
            if len(self.connector.messages(conversation)) >= count:
                await asyncio.sleep(0.2)
                return self.connector.messages(conversation)
            await asyncio.sleep(0.05)
        raise AssertionError(f"no reply in {conversation} within {timeout} s: {self.connector.calls[-5:]}")


def teams_config(handbook_data: Path, tmp_path: Path, metadata_url: str, monkeypatch: pytest.MonkeyPatch) -> Config:
    shutil.copytree(handbook_data, tmp_path / "data")
    cfg = dev_config(tmp_path / "data")
    cfg.teams.enabled = True
    cfg.teams.app_id = APP_ID
    cfg.teams.tenant_ids = [TENANT]
    cfg.teams.openid_metadata_url = metadata_url
    monkeypatch.setenv("LORE_SECRET_TEAMS_APP_PASSWORD", "client-secret-value")
    return cfg


@pytest.fixture
def teams_tweak() -> Callable[[Config], None]:
    """Overridden by a test module that needs other settings (a higher rate limit, say)."""
    return lambda cfg: None


@pytest.fixture
def teams_audit() -> AuditSink | None:
    """Overridden by a test module that runs the admin commands (they need an audit sink)."""
    return None


@pytest.fixture
async def teams(handbook_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                teams_tweak: Callable[[Config], None], teams_audit: AuditSink | None) -> AsyncIterator[Teams]:
    async with BotTokenIssuer.running(APP_ID) as issuer, BotConnectorStandIn.running({APP_TOKEN}) as connector:
        connector.add_conversation(PERSONAL, "personal", [member("aad-carol")])
        connector.add_conversation(CHANNEL, "channel", [member("aad-carol"), member("aad-erin")])
        connector.add_conversation(GROUP, "groupChat", [member("aad-carol"), member("aad-gina", role="guest")])
        cfg = teams_config(handbook_data, tmp_path, issuer.metadata_url, monkeypatch)
        teams_tweak(cfg)
        state = build_state(cfg, audit_sink=teams_audit)
        surface = state.surfaces.by_platform["teams"]
        assert isinstance(surface, TeamsSurface)
        tokens = AppTokens()
        surface.connector.tokens = tokens
        surface.directory = Directory()
        surface.audience_policy = RosterPolicy()
        async with TestClient(TestServer(create_app(cfg, state))) as client:
            yield Teams(client, issuer, connector, surface, tokens)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def stream_latencies(teams: Teams, askers: int) -> tuple[list[float], list[float]]:
    """``askers`` people ask at once in their 1:1 chats: seconds from each post to the first
    streamed update and to the final message, as the Bot Connector stand-in received them."""
    loop = asyncio.get_running_loop()
    teams.connector.clock = loop.time
    bodies = []
    for n in range(askers):
        conversation = f"a:personal-measure-{n}"
        teams.connector.add_conversation(conversation, "personal", [member("aad-carol")])
        bodies.append(activity(teams.service_url, "personal", "how do I get VPN access?", conversation=conversation))
    posted: dict[str, float] = {}

    async def post(body: dict[str, Any]) -> int:
        posted[body["id"]] = loop.time()
        return await teams.post(body)

    assert set(await asyncio.gather(*(post(b) for b in bodies))) == {200}
    first, final = [], []
    for body in bodies:
        await teams.replies(body["conversation"]["id"], timeout=60)
        sent = teams.connector.conversations[body["conversation"]["id"]].activities
        first.append(sent[0]["_at"] - posted[body["id"]])
        final.append(sent[-1]["_at"] - posted[body["id"]])
    return first, final

