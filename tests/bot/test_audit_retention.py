"""`audit.retention_days` in the server: old events are pruned behind a signed checkpoint and the
chain still verifies; a missing audit key is logged, never a crash of the server."""

from __future__ import annotations

import asyncio
import base64
import logging
from datetime import UTC, datetime, timedelta

import pytest

from bot.audit import prune_forever
from core.audit import AuditEvent, DatabaseAuditLog, verify_chain
from core.config import Config
from core.db import Database
from core.secrets import EnvSecretStore

KEY = base64.b64encode(bytes(range(1, 33))).decode()


async def test_the_server_prunes_old_events_and_the_chain_still_verifies(database: Database) -> None:
    cfg = Config()
    cfg.audit.retention_days = 30
    store = EnvSecretStore({"LORE_SECRET_AUDIT_KEY": KEY})
    old = datetime.now(UTC) - timedelta(days=40)
    DatabaseAuditLog(database, cfg.audit, store, clock=lambda: old).record(AuditEvent("feedback", actor="u"))
    DatabaseAuditLog(database, cfg.audit, store).record(AuditEvent("feedback", actor="v"))
    task = asyncio.create_task(prune_forever(cfg, database, store, every=3600))
    await asyncio.sleep(0.5)
    task.cancel()
    result = verify_chain(database, base64.b64decode(KEY))
    assert result.ok and result.broken is None
    assert result.events == 2 and result.pruned_through == 1  # the old event went; the prune is recorded


async def test_without_the_audit_key_pruning_is_logged_not_fatal(
        database: Database, caplog: pytest.LogCaptureFixture) -> None:
    cfg = Config()
    cfg.audit.retention_days = 30
    task = asyncio.create_task(prune_forever(cfg, database, EnvSecretStore({}), every=3600))
    with caplog.at_level(logging.ERROR, "lore.audit"):
        await asyncio.sleep(0.3)
    assert not task.done()  # still scheduled for tomorrow
    task.cancel()
    assert any("audit log not pruned" in r.getMessage() and "LORE_SECRET_AUDIT_KEY" in str(r.__dict__.get("error"))
               for r in caplog.records)
