"""The server runs the configured connectors' sync jobs: a fresh server with an empty index and
a files connector syncs it, answers from it, exports sync metrics, runs a sync asked for
through the admin trigger, and stops the scheduler on shutdown."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.server import STATE_KEY, create_app
from connectors.files.settings import FilesConnectorConfig
from core.db import IngestRun, open_database
from tests.bot.conftest import dev_config
from tests.bot.test_server import ask, cited
from tests.conftest import REPO


async def test_the_server_syncs_configured_connectors(tmp_path: Path) -> None:
    shutil.copytree(REPO / "examples" / "handbook", tmp_path / "handbook")
    cfg = dev_config(tmp_path / "data")
    cfg.sync.tick_seconds = 0.2
    cfg.connectors["handbook"] = FilesConnectorConfig(type="files", path=str(tmp_path / "handbook"))

    def runs() -> list[tuple[str, str]]:
        db = open_database(cfg.database_url)
        try:
            with db.session() as s:
                return [(r.kind, r.status) for r in s.execute(select(IngestRun).order_by(IngestRun.id)).scalars()]
        finally:
            db.close()

    app = create_app(cfg)
    trigger = app[STATE_KEY].sync_trigger
    async with TestClient(TestServer(app)) as client:
        for _ in range(200):
            if len(runs()) >= 3 and all(status != "running" for _, status in runs()):
                break
            await asyncio.sleep(0.1)
        assert runs() == [("full", "succeeded"), ("permissions", "succeeded"), ("content", "succeeded")]
        # The run's row is final a moment before its report reaches the metrics: wait for both.
        full_runs = 'lore_sync_runs_total{connector="handbook",kind="full",status="succeeded"} 1.0'
        for _ in range(100):
            metrics = await (await client.get("/metrics")).text()
            if full_runs in metrics and 'kind="content",status="succeeded"' in metrics:
                break
            await asyncio.sleep(0.05)
        assert full_runs in metrics
        assert 'lore_sync_documents_total{connector="handbook",outcome="indexed"} 27.0' in metrics
        answer = await ask(client, "carol@northwind.example", "What are the salary bands?")
        assert "hr/confidential/salary-bands.md" in cited(answer)
        # `!sync now` reaches this scheduler through the trigger: a content run, not due for hours.
        assert trigger.connectors == ["handbook"] and trigger.request("handbook") == ["handbook"]
        for _ in range(200):
            if len(runs()) >= 4 and runs()[3][1] != "running":
                break
            await asyncio.sleep(0.1)
        assert runs()[3:] == [("content", "succeeded")]
    assert runs()[-1][1] == "succeeded"  # nothing left running after shutdown
    assert not trigger.bound
