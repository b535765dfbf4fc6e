"""The chat-surface contract: the server builds whatever the table lists, mounts its routes,
starts it after warm-up, stops it before draining, shows its readiness, and routes identity and
audience lookups to it by platform, failing closed for a platform it does not know."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot import server
from bot.surface import Surface, SurfaceContext, Surfaces
from bot.surfaces import SURFACES
from bot.turn import UNKNOWN_AUDIENCE, Identity, Kind, Turn
from tests.bot.conftest import dev_config

ALICE = Identity("alice@northwind.example", org_member=True)


class Pager(Surface):
    """A made-up surface: one route, a lifecycle it records, a fixed user."""

    platform = "pager"

    def __init__(self, ctx: SurfaceContext) -> None:
        self.ctx = ctx
        self.events: list[str] = []

    async def resolve(self, turn: Turn) -> Identity | None:
        return ALICE if turn.user_id == "alice" else None

    def add_routes(self, app: web.Application) -> None:
        async def ping(_request: web.Request) -> web.Response:
            return web.json_response({"surface": self.platform, "started": "start" in self.events})

        app.router.add_get("/pager/ping", ping)

    async def start(self) -> None:
        self.events.append("start")

    async def stop(self) -> None:
        self.events.append("stop")

    def readiness(self) -> str:
        return "degraded: the pager network is quiet"


async def test_a_new_surface_is_one_table_entry(handbook_data: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[Pager] = []

    def build(ctx: SurfaceContext) -> Pager:
        built.append(Pager(ctx))
        return built[-1]

    monkeypatch.setitem(SURFACES, "pager", build)  # the table in bot/surfaces.py
    shutil.copytree(handbook_data, tmp_path / "data")
    app = server.create_app(dev_config(tmp_path / "data"))
    async with TestClient(TestServer(app)) as client:
        (pager,) = built
        assert pager.events == ["start"]
        assert await (await client.get("/pager/ping")).json() == {"surface": "pager", "started": True}
        body = await (await client.get("/readyz")).json()
        assert body["ready"] is True
        assert body["checks"]["surface:pager"] == "degraded: the pager network is quiet"
        assert body["checks"]["surface:webchat"] == "ok"
        # The conversation service asks the surface the turn came from.
        turn = Turn("pager", "w", "alice", Kind.DIRECT, "c", "t", "vpn access")
        events = [e async for e in pager.ctx.conversation.ask(turn)]
        assert type(events[-1]).__name__ == "Finished"
    assert pager.events == ["start", "stop"]


async def test_turns_of_an_unknown_platform_have_no_identity_and_an_unknown_audience() -> None:
    surfaces = Surfaces()
    turn = Turn("teams", "tenant", "u1", Kind.CHANNEL, "c", "t", "hello")
    assert await surfaces.resolve(turn) is None
    assert await surfaces.audience(turn) == UNKNOWN_AUDIENCE


async def test_a_surface_without_an_audience_lookup_assumes_outsiders() -> None:
    pager = Pager.__new__(Pager)  # no context needed for the defaults
    turn = Turn("pager", "w", "alice", Kind.CHANNEL, "c", "t", "hello")
    assert await Surfaces({"pager": pager}).audience(turn) == UNKNOWN_AUDIENCE


def test_two_surfaces_for_one_platform_are_refused() -> None:
    surfaces = Surfaces()
    surfaces.add(Pager.__new__(Pager))
    with pytest.raises(ValueError, match="two chat surfaces for the platform 'pager'"):
        surfaces.add(Pager.__new__(Pager))
