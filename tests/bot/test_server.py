"""The server's health and readiness endpoints."""

from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from bot.server import create_app
from core.config import Config


async def test_healthz_and_readyz(hash_config: Config) -> None:
    async with TestClient(TestServer(create_app(hash_config))) as client:
        r = await client.get("/healthz")
        assert r.status == 200 and (await r.json()) == {"status": "ok"}
        r = await client.get("/readyz")
        body = await r.json()
        assert r.status == 200, body
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["index"].startswith("ok")


async def test_readyz_reports_a_broken_index(hash_config: Config, tmp_path: Path) -> None:
    hash_config.index.path = str(tmp_path / "not-a-dir")
    (tmp_path / "not-a-dir").write_text("a file where the index folder should be")
    async with TestClient(TestServer(create_app(hash_config))) as client:
        r = await client.get("/readyz")
        body = await r.json()
        assert r.status == 503 and body["ready"] is False
        assert body["checks"]["index"].startswith("error")
