"""The issue's "done when": `lore audit verify` passes on the log of a busy server (many people
asking at once, admin commands, forged requests) and names the first broken link once one row
is tampered with."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text

from bot.cli import main
from bot.server import STATE_KEY, create_app
from core.db import open_database
from tests.bot.conftest import SAMPLE_USERS, dev_config

QUESTIONS = ["How do I get VPN access?", "What is the parental leave policy?", "How do I expense travel?"]


async def test_verify_passes_on_a_busy_run_and_fails_on_a_tampered_one(
        handbook_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    shutil.copytree(handbook_data, data)
    cfg = dev_config(data)
    cfg.admins.users = [SAMPLE_USERS[0].split()[0]]
    cfg.ratelimit.questions_per_minute = 1000
    async with TestClient(TestServer(create_app(cfg))) as client:
        async def ask(user: str, question: str) -> int:
            r = await client.post("/api/webchat/ask", json={"user": user, "text": question})
            await r.read()
            return r.status

        users = [u.split()[0] for u in SAMPLE_USERS]
        statuses = await asyncio.gather(
            *(ask(users[i % len(users)], f"{QUESTIONS[i % 3]} ({i})") for i in range(36)),
            ask(users[0], "!status"), ask(users[1], "!status"),
        )
        assert set(statuses) <= {200, 403}
        await client.server.app[STATE_KEY].audit.drain()
    monkeypatch.delenv("LORE_CONFIG", raising=False)
    config = tmp_path / "lore.toml"
    config.write_text(f'data_dir = "{data}"\n[server]\nmode = "development"\n')

    assert main(["--config", str(config), "audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: ") and " events" in out
    events = int(out.split("ok: ")[1].split(" events")[0])
    assert events >= 38  # 36 questions + 2 admin commands

    db = open_database(cfg.database_url, upgrade=False)
    try:
        with db.engine.begin() as conn:  # someone edits one answer's record after the fact
            conn.execute(text("UPDATE audit_events SET details = replace(details, '(17)', '(71)') "
                              "WHERE details LIKE '%(17)%'"))
    finally:
        db.close()
    assert main(["--config", str(config), "audit", "verify"]) == 1
    report = capsys.readouterr()
    assert "edited" in (report.out + report.err)
